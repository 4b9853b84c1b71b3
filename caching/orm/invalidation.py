"""
The DEL path: turn a committed write into new stamps in Redis, and delete the
changed objects' own entries.

Nothing is lost to an outage: stamps are recorded in the outbox table within
the writing transaction and removed only once Redis has them (caching.orm.outbox).

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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from caching import signals, store
from caching.orm import deps as dep
from caching.orm import outbox
from caching.orm.registry import owned_keys
from caching.store import Dep, client
from caching.store.client import CacheUnavailable

logger = logging.getLogger("caching")
BATCHES = "caching_batches"  # on a connection: this transaction's Batch list


# The connections whose open transaction made tracked writes, in any thread.
# Empty (every read outside a writing transaction): a read skips Django's
# connection lookup, a context-local that cost the hit path a twentieth of its
# time.
_dirty: set[Any] = set()


def is_dirty(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Return whether the current transaction has uncommitted tracked writes."""
    if not _dirty:
        return False
    for conn in list(_dirty):  # a transaction that ended, in whichever thread
        if not conn.in_atomic_block:
            _dirty.discard(conn)
    return bool(_dirty) and connections[using] in _dirty


@dataclass(eq=False)
class Batch:
    """Stamps and deletions one savepoint level of a transaction owes Redis."""

    using: str
    savepoints: frozenset[str]
    deps: set[Dep] = field(default_factory=set)
    owned: set[str] = field(default_factory=set)
    rows: list[int] = field(default_factory=list)  # its outbox rows
    stamped: store.Stamped | None = None  # once applied: what Redis stamped

    @property
    def wire(self) -> str:
        return store.encode_deps(self.deps)

    def __call__(self) -> None:  # on commit
        self.stamped = apply(self.wire, self.rows, self.using, self.owned)


def current_batch(using: str = DEFAULT_DB_ALIAS) -> Batch | None:
    """Return the batch the writes of the current savepoint level go into (a
    write-through fill asks it, after the commit, what it stamped)."""
    conn = connections[using]
    if not conn.in_atomic_block:
        return None
    here = frozenset(conn.savepoint_ids)
    return next(
        (b for b in reversed(_live_batches(conn)) if b.savepoints == here), None
    )


def _live_batches(conn) -> list[Batch]:
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
    _dirty.add(conn)
    here = frozenset(conn.savepoint_ids)
    batches = _live_batches(conn)
    for owed in batches:  # what an enclosing level owes is owed already
        if owed.savepoints <= here:
            deps -= owed.deps
    batch: Batch | None = next(
        (b for b in reversed(batches) if b.savepoints == here), None
    )
    if batch is None and not deps:  # owned keys only: their stamps are owed
        batch = next((b for b in reversed(batches) if b.savepoints <= here), None)
        if batch is not None:
            batch.owned |= owned
        return
    if batch is None:
        batch = Batch(using, here)
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
) -> store.Stamped | None:
    """Stamp wire in Redis now, and return what it stamped; keep it in the
    outbox if Redis cannot take it (then None)."""
    owned = sorted(owned)
    if not wire:  # only keys to delete: their stamps were applied already
        if owned:
            with contextlib.suppress(CacheUnavailable):  # else they expire
                client.run(lambda redis: redis.unlink(*owned))
        return None
    try:
        stamped = client.run(
            lambda redis: store.invalidate_wire(redis, wire, owned), force=True
        )
    except CacheUnavailable:
        # Stranded: any process that reaches Redis applies it (caching.orm.outbox).
        if rows:
            outbox.strand(rows, using=using)
        elif wire:
            outbox.record(wire, using=using, stranded=True)
        logger.info("invalidation kept in the outbox until Redis is back: %.80s", wire)
        return None
    logger.debug("cache event=invalidate stamps=%.200s", wire)
    if rows:
        outbox.settle(rows, using=using)
    signals.cache_invalidated.send(sender=apply, wire=wire)
    return stamped


def changed(instance: models.Model) -> list[Dep]:
    """Return the stamps a save or delete of instance bumps."""
    model = dep.concrete(type(instance))
    return [dep.row(model, instance.pk), dep.table(model)]


def invalidate(target: type[models.Model] | models.Model | str) -> None:
    """Invalidate one object, every entry of a model, or everything that
    depends on a named value (``invalidate("rates")``: caching.http.upstream).

    Every write Django executes invalidates by itself (caching.orm.capture):
    this is for writes made outside Django (psql, another service).
    """
    if isinstance(target, str):
        invalidate_on_commit([dep.table(target)])
    elif isinstance(target, models.Model):
        model = dep.concrete(type(target))
        invalidate_on_commit(  # columns unknown: every list over it too
            [*changed(target), dep.members(model)],
            owned=owned_keys(model, target.pk, target),
            using=target._state.db or DEFAULT_DB_ALIAS,
        )
    else:
        invalidate_on_commit(dep.whole_table(target))
