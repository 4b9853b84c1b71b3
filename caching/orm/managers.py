"""
Cache-aside reads and write-through saves for models that opt in.

A model opts in with ``objects = CachedManager()`` (or ``WriteThroughManager()``);
``depends_on`` names the relations its cached copies embed, so that a change to
one of those rows invalidates them too::

    class Product(models.Model):
        objects = WriteThroughManager(depends_on=("category", "tags"))

    Product.objects.cached().filter(is_active=True)   # evaluated result cached
    Product.objects.get_cached(pk=5)                    # one object cached

Writes need nothing from the manager: every write Django executes on a
watched table invalidates, whatever manager or SQL issued it (caching.orm.capture).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.core.exceptions import EmptyResultSet
from django.db import connections, models, transaction

from caching import store
from caching.orm import columns, writethrough
from caching.orm import deps as dep
from caching.orm.invalidation import is_dirty
from caching.orm.registry import dependencies_of_model, track
from caching.store import CacheStatus, Fill, codec, keys

M = TypeVar("M", bound=models.Model)


def _dumps(value: object) -> bytes:
    return codec.dumps(value)


class CachedQuerySet(models.QuerySet, Generic[M]):
    """A queryset whose ``cached()`` form reads through Redis."""

    _cache_on = False
    _cache_ttl: int | None = None
    cache_status: CacheStatus | None = None
    cache_key: str | None = None  # of its last read through the cache
    count_cache_key: str | None = None  # of its last count_cached()

    def _clone(self):
        clone = super()._clone()  # type: ignore[misc]  # Django's private API
        clone._cache_on = self._cache_on
        clone._cache_ttl = self._cache_ttl
        return clone

    # --- reads -------------------------------------------------------------
    def cached(self, *, ttl: int | None = None) -> CachedQuerySet[M]:
        """Return this queryset with its evaluated result read through the cache."""
        clone = self._chain()  # type: ignore[attr-defined]
        clone._cache_on = True
        if ttl is not None:  # else the model's (the manager's ttl) or CACHE_TTL
            clone._cache_ttl = ttl
        return clone

    def with_embedded(self) -> CachedQuerySet[M]:
        """Return this queryset loading the relations cached copies embed."""
        queryset = self
        for name in dependencies_of_model(self.model):
            field = self.model._meta.get_field(name)
            if field.many_to_many or field.one_to_many:
                queryset = queryset.prefetch_related(name)
            else:
                queryset = queryset.select_related(name)
        return queryset

    def uncached(self) -> CachedQuerySet[M]:
        """Return this queryset reading the database only."""
        clone = self._chain()  # type: ignore[attr-defined]
        clone._cache_on = False
        return clone

    def _fetch_all(self) -> None:
        if self._result_cache is None and self._cache_on:
            try:
                sql, params = self.query.sql_with_params()
            except EmptyResultSet:
                sql = None
            if sql is not None:
                self.cache_key = keys.query_key(self.model, sql, params)
                outcome = store.fetch(
                    self.cache_key,
                    lambda: list(self.uncached()),
                    encode=lambda rows: Fill(_dumps(rows), self._query_deps(sql)),
                    decode=pickle.loads,
                    ttl=self._cache_ttl,
                    usable=not is_dirty(self.db),
                    group=f"orm:{keys.label(self.model)}",
                )
                self._result_cache = outcome.value
                self._prefetch_done = True
                self.cache_status = outcome.status
        super()._fetch_all()

    def dependencies(self, *, rows: bool = True) -> list[store.Dep]:
        """Return what the cached result of this queryset depends on
        (``rows=False``: its cached ``count()``)."""
        try:
            sql, _ = self.query.sql_with_params()
        except EmptyResultSet:
            return []
        return self._query_deps(sql, rows=rows)

    def _query_deps(self, sql: str, *, rows: bool = True) -> list[store.Dep]:
        # Ids, values and counts: the columns they read (caching.orm.columns);
        # whole rows read every column anyway, so the tables they name.
        if (getattr(self, "_fields", None) is not None or not rows) and not (
            self._prefetch_related_lookups  # type: ignore[attr-defined]
        ):
            precise = columns.query_deps_of(self, sql, rows=rows)
            if precise is not None:
                return precise
        quote = connections[self.db].ops.quote_name
        from django.apps import apps

        tables = [
            m._meta.db_table
            for m in apps.get_models(include_auto_created=True)
            if quote(m._meta.db_table) in sql
        ]
        related = [
            m
            for lookup in self._prefetch_related_lookups  # type: ignore[attr-defined]
            for m in _lookup_models(self.model, lookup)
        ]
        return dep.for_tables(tables) + dep.for_models(self.model, *related)

    def count_cached(self) -> int:
        """Return ``count()`` of this queryset, read through the cache (stale
        after any write to a table the query reads)."""
        try:
            sql, params = self.query.sql_with_params()
        except EmptyResultSet:
            return 0
        self.count_cache_key = keys.query_key(self.model, "count:" + sql, params)
        outcome = store.fetch(
            self.count_cache_key,
            lambda: self.uncached().count(),
            encode=lambda n: Fill(str(n).encode(), self._query_deps(sql, rows=False)),
            decode=int,
            ttl=self._cache_ttl,
            usable=not is_dirty(self.db),
            group=f"orm:{keys.label(self.model)}",
        )
        return outcome.value

    def get_cached(self, **lookup: Any) -> M:
        """Return the one object matching lookup, from the cache when fresh."""
        return self.get_cached_as_of(**lookup)[0]

    def get_cached_as_of(self, **lookup: Any) -> tuple[M, int | None]:
        """Return the one object matching lookup and the clock value it is fresh
        as of (None when the cache was bypassed): what a write-through of a
        change to it needs (``WriteThroughManager.refill_on_commit``)."""
        pk = lookup.get("pk", lookup.get(self.model._meta.pk.attname))
        by_pk = pk is not None and len(lookup) == 1
        if by_pk and not self.query.where:
            key = keys.object_key(self.model, pk)
        else:
            sql, params = self.filter(**lookup).query.sql_with_params()
            key = keys.query_key(self.model, "get:" + sql, params)

        def encode(instance: M) -> Fill:
            deps = dep.for_instance(instance)
            if not by_pk:  # another row may come to match the lookup
                deps.append(dep.table(self.model))
            return Fill(_dumps(instance), deps)

        outcome = store.fetch(
            key,
            lambda: self.uncached().with_embedded().get(**lookup),
            encode=encode,
            decode=pickle.loads,
            ttl=self._cache_ttl,
            usable=not is_dirty(self.db),
            group=f"orm:{keys.label(self.model)}",
        )
        return outcome.value, outcome.asof

    def get_many_cached(self, pks: Sequence[Any]) -> list[M]:
        """Return the objects with these primary keys, in their order (a row
        gone since is left out), from the same entries as ``get_cached``: one
        Redis round trip for all of them; those missing or stale are loaded in
        one query and filled in one pipelined round trip, each as of the clock
        its read returned (a write in between voids that object's fill only).
        """
        key_of = {pk: keys.object_key(self.model, pk) for pk in pks}
        pk_of = {key: pk for pk, key in key_of.items()}

        def load(missing: list[str]) -> dict[str, M]:
            rows = self.uncached().with_embedded().in_bulk([pk_of[k] for k in missing])
            return {key_of[pk]: obj for pk, obj in rows.items()}

        by_key = store.fetch_many(
            list(key_of.values()),
            load,
            encode=lambda obj: Fill(_dumps(obj), dep.for_instance(obj)),
            decode=pickle.loads,
            usable=not is_dirty(self.db),
            ttl=self._cache_ttl,
            group=f"orm:{keys.label(self.model)}",
        )
        found = {pk: by_key[key] for pk, key in key_of.items() if key in by_key}
        return [found[pk] for pk in pks if pk in found]


def _lookup_models(model: type[models.Model], lookup: Any) -> list[type[models.Model]]:
    path = getattr(lookup, "prefetch_through", lookup)
    found = []
    for name in str(path).split("__"):
        field = model._meta.get_field(name)
        model = dep.related_model(field)
        found.append(model)
        if field.many_to_many:
            found.append(getattr(field, "through", None) or dep.through_model(field))
    return found


class CachedManager(models.Manager.from_queryset(CachedQuerySet), Generic[M]):  # type: ignore[misc]
    """The default manager of a cached model; see the module docstring."""

    def __init__(self, *, depends_on: tuple[str, ...] = (), ttl: int | None = None):
        super().__init__()
        self.depends_on = depends_on
        self.ttl = ttl  # this model's entry TTL; None: CACHE_TTL

    def get_queryset(self) -> CachedQuerySet[M]:
        queryset = super().get_queryset()
        queryset._cache_ttl = self.ttl
        return queryset

    def contribute_to_class(self, cls: type[M], name: str) -> None:
        super().contribute_to_class(cls, name)
        if not cls._meta.abstract:
            track(cls, self.depends_on)


class WriteThroughManager(CachedManager[M]):
    """A cached manager whose writes also refill the cache after commit."""

    def save_through(self, instance: M, **save_kwargs: Any) -> M:
        """Save instance in a transaction and put it in the cache once committed."""
        with transaction.atomic(using=self.db):
            instance.save(using=self.db, **save_kwargs)
            self.refill_on_commit(instance)
        return instance

    def create_through(self, **fields: Any) -> M:
        """Create an object and put it in the cache once committed."""
        return self.save_through(self.model(**fields))

    def update_through(self, instance: M, **fields: Any) -> M:
        """Change fields of instance, save them (and its ``auto_now`` fields)
        and refill the cache after commit. Only those columns are written, so
        only they are stamped: lists that neither filter nor order on them
        keep their length and ids (caching.orm.columns)."""
        for name, value in fields.items():
            setattr(instance, name, value)
        touched = [
            f.name
            for f in instance._meta.concrete_fields
            if getattr(f, "auto_now", False)
        ]
        return self.save_through(instance, update_fields=[*fields, *touched])

    def refill_on_commit(
        self,
        instance: M,
        *,
        then: Callable[[M], object] | None = None,
        read_asof: int | None = None,
    ) -> None:
        """Refill instance's entries once the transaction commits; ``then``
        receives the fresh row stored.

        ``read_asof``: instance was read from the cache as of that clock value
        (``get_cached_as_of``) and changed by this transaction's save alone; its
        entries are then built from it unless another write touched them since,
        instead of reading the row back.
        """
        writethrough.refill_on_commit(
            type(instance),
            instance.pk,
            using=self.db,
            then=then,
            written=instance,
            read_asof=read_asof,
        )
