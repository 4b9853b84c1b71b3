"""
Write-through: after a write commits, put the fresh object in the cache.

Order is the point (the seed's caveat, docs/consistency.md I6/I7): nothing is
written to Redis before the database commits, so a failed or rolled-back write
leaves the cache untouched. After commit the invalidation runs first (it was
queued by the write's signals), then this refill: it takes an ``asof`` from the
clock, re-reads the row from the database and fills with that ``asof``. A later
writer's invalidation carries a greater stamp, so an older refill can never be
served over a newer write, whatever order the refills land in. If the refill
cannot reach Redis, the invalidation already made the old entry unservable.

Apps register extra fillers for copies of the object they cache in other forms
(the API registers its rendered detail responses).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from django.db import models, transaction

from caching import store
from caching.orm import deps as dep
from caching.orm import invalidation, registry
from caching.store import Fill, codec, keys
from caching.store.client import CacheUnavailable

logger = logging.getLogger("caching")


def refill_on_commit(
    model: type[models.Model],
    pk: object,
    *,
    using: str,
    then: Callable[[Any], object] | None = None,
    written: models.Model | None = None,
    read_asof: int | None = None,
) -> None:
    """Refill the cached copies of model row pk once the transaction commits;
    ``then`` receives the fresh row that was stored (if it was).

    ``written``: the row as this transaction saved it, read from the cache as of
    ``read_asof``; stored as it is when nothing else wrote it since (see
    ``store_written``), else the row is read back.
    """

    batch = invalidation.current_batch(using)  # the save's: stamped after commit

    def after_commit() -> None:
        fresh = None
        if written is not None and read_asof is not None and batch is not None:
            fresh = store_written(written, read_asof, batch)
        if fresh is None:
            fresh = refill(model, pk)
        if fresh is not None and then is not None:
            then(fresh)

    transaction.on_commit(after_commit, using=using)


def store_written(
    instance: models.Model, read_asof: int, batch: invalidation.Batch
) -> models.Model | None:
    """Store the copies of instance without reading it back; return a copy of
    instance if they were stored, None if the caller must read it back.

    Run after the save's own invalidation (batch, applied at the commit), which
    stamped the row with ``own``; if the batch holds more than the save (an M2M
    change, another row), read back. The copies hold what was cached at
    ``read_asof`` plus this write, and relations read later; they are stored as
    of ``own`` only if no stamp on anything they depend on is newer than
    ``read_asof`` except ``own``, and the invalidation replaced no newer stamp on
    the row (FILL_WRITTEN). With several shards each has its own clock: read
    back.
    """
    stamped = batch.stamped
    saved = set(invalidation.changed(instance))
    model = dep.concrete(type(instance))
    others = {d for d in batch.deps - saved if not dep.is_column(d, model)}
    if others or not saved <= batch.deps:  # more than this save: read back
        return None
    if stamped is None or len(stamped.stamps) != 1:
        return None
    if stamped.replaced[0] > read_asof:  # another write stamped the row meanwhile
        return None
    for hook in before_written_fill:
        hook(instance)
    try:
        stored = store.fill_written(entries_for(instance), read_asof, stamped.stamps[0])
    except CacheUnavailable:
        return None
    # A copy: the caller's instance may yet be changed (DRF drops its prefetched
    # relations after an update); the copy answers with what was stored.
    return copy.copy(instance) if stored else None


# Test hook: called before a write-through fill from the written row, to force
# a concurrent write in between. Empty in production.
before_written_fill: list[Callable[[models.Model], None]] = []


def fresh_instance(model: type[models.Model], pk: object) -> models.Model | None:
    """Return the committed row pk with the relations its copies embed."""
    manager: Any = model._default_manager  # a CachedManager (caching.orm.managers)
    return manager.uncached().with_embedded().filter(pk=pk).first()


def entries_for(instance: models.Model) -> list[tuple[str, Fill]]:
    """Return every entry write-through stores for instance: the object, and
    each form its endpoints declare (caching.orm.registry.forms_of)."""
    model = type(instance)
    entries = [
        (
            keys.object_key(model, instance.pk),
            Fill(
                codec.dumps(instance),
                dep.for_instance(instance),
            ),
        )
    ]
    entries.extend(registry.forms_of(instance))
    return entries


def refill(model: type[models.Model], pk: object) -> models.Model | None:
    """Store fresh copies of row pk; return the fresh row, or None if skipped."""
    try:
        asof = store.now_all()  # before the database read (I12); one per shard
    except CacheUnavailable:
        return None
    instance = fresh_instance(model, pk)
    if instance is None:
        return None
    entries = entries_for(instance)
    try:
        store.fill_many(entries, asof)  # one pipelined round trip
    except CacheUnavailable:
        logger.info(
            "write-through refill skipped, Redis unavailable: %s", entries[0][0]
        )
        return None
    return instance
