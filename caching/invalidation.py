"""
The DEL path: turn a committed write into new stamps in Redis.

Nothing is lost to an outage: stamps are recorded in the outbox table within
the writing transaction and removed only once Redis has them (caching.outbox).

Invalidation runs in ``transaction.on_commit`` (I2): a reader can never refill
the cache from a transaction that has not committed, and a rolled-back write
invalidates nothing. A transaction that has written to a tracked model is
"dirty": reads inside it bypass the cache (I8), so they neither see pre-write
entries nor fill entries with rows that may yet roll back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from caching import client, outbox, signals, store
from caching import deps as dep
from caching.client import CacheUnavailable
from caching.store import Dep

logger = logging.getLogger("caching")
DIRTY = "caching_dirty"  # set on the connection while its transaction wrote


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


def invalidate_on_commit(deps: Iterable[Dep], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Stamp deps once the current transaction commits (now, in autocommit).

    Inside a transaction the stamps are also written to the outbox table, in the
    same transaction: if Redis cannot take them after commit, they wait there.
    """
    wire = store.encode_deps(deps)
    if not wire:
        return
    conn = connections[using]
    if conn.in_atomic_block:
        setattr(conn, DIRTY, True)
        row_id = outbox.record(wire, using=using)
        transaction.on_commit(
            lambda: apply(wire, row_id, using), using=using, robust=True
        )
    else:  # autocommit: the change is already committed
        apply(wire, None, using)


def apply(wire: str, row_id: int | None, using: str = DEFAULT_DB_ALIAS) -> None:
    """Stamp wire in Redis now; keep it in the outbox if Redis cannot take it."""
    _last.applied = None
    try:
        stamped = client.run(
            lambda redis: store.invalidate_wire(redis, wire), force=True
        )
    except CacheUnavailable:
        if row_id is None:
            outbox.record(wire, using=using)
        logger.info("invalidation kept in the outbox until Redis is back: %.80s", wire)
        return
    _last.applied = (using, wire, stamped)
    logger.debug("cache event=invalidate stamps=%.200s", wire)
    if row_id is not None:
        outbox.done(row_id, using=using)
    signals.cache_invalidated.send(sender=apply, wire=wire)


def take_last_applied(using: str, wire: str) -> store.Stamped | None:
    """Return what this thread's last invalidation stamped, if it was wire on
    using and nothing took it since (a write-through fill right after it)."""
    last, _last.applied = _last.applied, None
    if last is None or last[:2] != (using, wire):
        return None
    return last[2]


def changed(instance: models.Model) -> list[Dep]:
    """Return the stamps a save or delete of instance must bump."""
    model = type(instance)
    return [dep.row(model, instance.pk), dep.table(model)]


def invalidate(target: type[models.Model] | models.Model) -> None:
    """Invalidate one object, or every entry of a model (after raw SQL)."""
    if isinstance(target, models.Model):
        invalidate_on_commit(changed(target), using=target._state.db or "default")
    else:
        invalidate_on_commit([dep.table(target), dep.all_rows(target)])
