"""
The DEL path: turn a committed write into new stamps in Redis, and delete the
changed objects' own entries.

Nothing is lost to an outage: stamps are recorded in the outbox table within
the writing transaction and removed only once Redis has them (caching.outbox).

Invalidation runs in ``transaction.on_commit`` (I2): a reader can never refill
the cache from a transaction that has not committed, and a rolled-back write
invalidates nothing. The writes of one transaction are gathered into batches,
one per savepoint level, each one outbox row and one script after the commit:
a save's UPDATE (seen by the compiler) and its post_save (which knows the
object's own keys) cost one invalidation, not two. A transaction that has
written to a tracked model is "dirty": reads inside it bypass the cache (I8),
so they neither see pre-write entries nor fill entries with rows that may yet
roll back.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from caching import client, outbox, signals, store
from caching import deps as dep
from caching.client import CacheUnavailable
from caching.registry import owned_keys
from caching.store import Dep

logger = logging.getLogger("caching")
DIRTY = "caching_dirty"  # set on the connection while its transaction wrote
BATCHES = "caching_batches"  # on a connection: this transaction's _Batch list


class _LastApplied(threading.local):
    applied: tuple[str, str, store.Stamped] | None = None


_last = _LastApplied()  # the invalidation this thread applied last


def is_dirty(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Return whether the current transaction has uncommitted tracked writes."""
    conn = connections[using]
    if not conn.in_atomic_block:
        setattr(conn, DIRTY, False)
        return False
    return getattr(conn, DIRTY, False)


@dataclass(eq=False)
class _Batch:
    """Stamps and deletions one savepoint level of a transaction owes Redis."""

    using: str
    savepoints: frozenset[str]
    deps: set[Dep] = field(default_factory=set)
    owned: set[str] = field(default_factory=set)
    rows: list[int] = field(default_factory=list)  # its outbox rows

    def __call__(self) -> None:  # on commit
        apply(store.encode_deps(self.deps), self.rows, self.using, self.owned)


def _live_batches(conn) -> list[_Batch]:
    """Return this transaction's batches whose commit callback is still queued
    (a rolled-back savepoint drops its callbacks, and its outbox rows)."""
    queued = {id(func) for _, func, _ in conn.run_on_commit}
    batches = [b for b in getattr(conn, BATCHES, ()) if id(b) in queued]
    setattr(conn, BATCHES, batches)
    return batches


def invalidate_on_commit(
    deps: Iterable[Dep],
    *,
    owned: Iterable[str] = (),
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """Stamp deps and delete the owned keys once the current transaction
    commits (now, in autocommit).

    Inside a transaction the stamps are also written to the outbox table, in the
    same transaction: if Redis cannot take them after commit, they wait there.
    """
    deps, owned = set(deps), set(owned)
    if not deps and not owned:
        return
    conn = connections[using]
    if not conn.in_atomic_block:  # autocommit: the change is already committed
        apply(store.encode_deps(deps), [], using, owned)
        return
    setattr(conn, DIRTY, True)
    here = frozenset(conn.savepoint_ids)
    batches = _live_batches(conn)
    for owed in batches:  # what an enclosing level owes is owed already
        if owed.savepoints <= here:
            deps -= owed.deps
    batch: _Batch | None = next(
        (b for b in reversed(batches) if b.savepoints == here), None
    )
    if batch is None and not deps:  # owned keys only: their stamps are owed
        batch = next((b for b in reversed(batches) if b.savepoints <= here), None)
        if batch is not None:
            batch.owned |= owned
        return
    if batch is None:
        batch = _Batch(using, here)
        transaction.on_commit(batch, using=using, robust=True)
        batches.append(batch)
    if deps:
        batch.rows.append(outbox.record(store.encode_deps(deps), using=using))
        batch.deps |= deps
    batch.owned |= owned


def apply(
    wire: str,
    rows: list[int],
    using: str = DEFAULT_DB_ALIAS,
    owned: Iterable[str] = (),
) -> None:
    """Stamp wire in Redis now; keep it in the outbox if Redis cannot take it."""
    _last.applied = None
    owned = sorted(owned)
    if not wire:  # only keys to delete: their stamps were applied already
        if owned:
            with contextlib.suppress(CacheUnavailable):  # else they expire
                client.run(lambda redis: redis.unlink(*owned))
        return
    try:
        stamped = client.run(
            lambda redis: store.invalidate_wire(redis, wire, owned), force=True
        )
    except CacheUnavailable:
        # Stranded: any process that reaches Redis applies it (caching.outbox).
        if rows:
            outbox.strand(rows, using=using)
        elif wire:
            outbox.record(wire, using=using, stranded=True)
        logger.info("invalidation kept in the outbox until Redis is back: %.80s", wire)
        return
    _last.applied = (using, wire, stamped)
    logger.debug("cache event=invalidate stamps=%.200s", wire)
    if rows:
        outbox.done(rows, using=using)
    signals.cache_invalidated.send(sender=apply, wire=wire)


def take_last_applied(using: str, wire: str) -> store.Stamped | None:
    """Return what this thread's last invalidation stamped, if it was wire on
    using and nothing took it since (a write-through fill right after it)."""
    last, _last.applied = _last.applied, None
    if last is None or last[:2] != (using, wire):
        return None
    return last[2]


def changed(instance: models.Model) -> list[Dep]:
    """Return the stamps a save or delete of instance bumps."""
    model = dep.concrete(type(instance))
    return [dep.row(model, instance.pk), dep.table(model)]


def invalidate(target: type[models.Model] | models.Model) -> None:
    """Invalidate one object, or every entry of a model (after a write made
    outside Django: psql, another service)."""
    if isinstance(target, models.Model):
        model = dep.concrete(type(target))
        invalidate_on_commit(
            changed(target),
            owned=owned_keys(model, target.pk, target),
            using=target._state.db or DEFAULT_DB_ALIAS,
        )
    else:
        invalidate_on_commit(dep.whole_table(target))
