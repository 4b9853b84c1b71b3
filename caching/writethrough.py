"""
Write-through: after a write commits, put the fresh object in the cache.

Order is the point (the seed's caveat, CONSISTENCY-NOTES I6/I7): nothing is
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

import logging
import pickle
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.db import models, transaction

from caching import deps as dep
from caching import keys, store
from caching.client import CacheUnavailable
from caching.store import Fill

logger = logging.getLogger("caching")
Filler = Callable[[models.Model], Iterable[tuple[str, Fill]]]
_fillers: dict[type[models.Model], list[Filler]] = defaultdict(list)


def register(model: type[models.Model], filler: Filler) -> None:
    """Have refills of model also store what filler returns (key, value) for."""
    if filler not in _fillers[model]:
        _fillers[model].append(filler)


def refill_on_commit(
    model: type[models.Model],
    pk: object,
    *,
    using: str,
    then: Callable[[Any], object] | None = None,
) -> None:
    """Refill the cached copies of model row pk once the transaction commits;
    ``then`` receives the fresh row that was stored (if it was)."""

    def after_commit() -> None:
        fresh = refill(model, pk)
        if fresh is not None and then is not None:
            then(fresh)

    transaction.on_commit(after_commit, using=using)


def fresh_instance(model: type[models.Model], pk: object) -> models.Model | None:
    """Return the committed row pk with the relations its copies embed."""
    manager: Any = model._default_manager  # a CachedManager (caching.managers)
    return manager.uncached().with_embedded().filter(pk=pk).first()


def entries_for(instance: models.Model) -> list[tuple[str, Fill]]:
    """Return every entry write-through stores for instance: the object, and
    each form the registered fillers render of it."""
    model = type(instance)
    entries = [
        (
            keys.object_key(model, instance.pk),
            Fill(
                pickle.dumps(instance, pickle.HIGHEST_PROTOCOL),
                dep.for_instance(instance),
            ),
        )
    ]
    for filler in _fillers[model]:
        entries.extend(filler(instance))
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
