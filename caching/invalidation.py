"""
The DEL path: turn a committed write into new stamps in Redis.

Invalidation runs in ``transaction.on_commit`` (I2): a reader can never refill
the cache from a transaction that has not committed, and a rolled-back write
invalidates nothing. A transaction that has written to a tracked model is
"dirty": reads inside it bypass the cache (I8), so they neither see pre-write
entries nor fill entries with rows that may yet roll back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from caching import deps as dep
from caching import signals, store
from caching.client import CacheUnavailable
from caching.store import Dep

logger = logging.getLogger("caching")


def mark_dirty(using: str = DEFAULT_DB_ALIAS) -> None:
    """Record that the current transaction wrote to a tracked model."""
    conn = connections[using]
    if conn.in_atomic_block:
        conn.caching_dirty = True


def is_dirty(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Return whether the current transaction has uncommitted tracked writes."""
    conn = connections[using]
    if not conn.in_atomic_block:
        conn.caching_dirty = False
        return False
    return getattr(conn, "caching_dirty", False)


def invalidate_on_commit(deps: Iterable[Dep], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Stamp deps once the current transaction commits (now, in autocommit)."""
    deps = list(deps)
    if not deps:
        return
    mark_dirty(using)
    transaction.on_commit(lambda: apply(deps), using=using)


def apply(deps: Iterable[Dep]) -> None:
    """Stamp deps in Redis now."""
    deps = list(deps)
    try:
        store.invalidate(deps)
    except CacheUnavailable as exc:
        # NOTE: the entry stays correct only until its TTL; the durable outbox
        # (issue 4) makes this survive an outage.
        logger.error(
            "invalidation lost, Redis unavailable: %d stamps (%s...): %s",
            len(deps),
            deps[0],
            exc,
        )
        return
    signals.cache_invalidated.send(sender=apply, deps=deps)


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
