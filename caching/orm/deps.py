"""
What a cached value depends on, as (model label, field) pairs.

Chosen scheme (per-row and per-table stamps, see store.py for the clock):

- ``(label, pk)``  one row. Bumped by its save/delete/M2M change. Object entries
  depend on their own row and on the rows they embed (a product on its category
  and tags, a profile on its user), so renaming a category invalidates exactly
  the products that show it.
- ``(label, "#")`` the table. Bumped by every write to the model, including
  inserts. Every list, query and aggregate depends on the tables it reads, so an
  insert that matches a cached filter page makes that page stale (I11, I13).
- ``(label, "*")`` all rows. Bumped by writes that cannot name their rows
  (``filter(...).update()``, raw SQL, ``invalidate(Model)``); every object entry
  of the model depends on it. An M2M relation's entries depend on the through
  table's "*", and on their own row, which every write to the through table that
  names them stamps (caching.orm.capture).

- ``(label, "#:m")`` membership: bumped by INSERT and DELETE, and by writes
  that cannot name their columns (raw SQL, ``invalidate()``).
- ``(label, "#:c:<column>")`` one column: bumped by an ORM UPDATE that sets it.
  A query of ids or a count depends on the membership of the tables it reads
  and on the columns it filters, joins and orders on (caching.orm.columns), not
  on the table: an UPDATE of ``stock`` leaves a price-ordered list's ids
  servable. Every write still bumps "#", so what depends on the table is as
  before.

A per-table stamp makes a single save refresh every list of that table but no
other object's detail entry: writes invalidate what they change, not the world.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, cast

from django.db import models

from caching.orm.registry import dependencies_of_model
from caching.store import Dep
from caching.store.keys import label, pk_part

TABLE = "#"
ALL_ROWS = "*"
MEMBERS = "#:m"
COLUMN = "#:c:"  # + the column's name


def row(model: type[models.Model] | str, pk: object) -> Dep:
    """Return the dependency on one row."""
    return (label(model), pk_part(model, pk))


def table(model: type[models.Model] | str) -> Dep:
    """Return the dependency on a whole table (lists, counts, aggregates)."""
    return (label(model), TABLE)


def members(model: type[models.Model] | str) -> Dep:
    """Return the dependency on which rows a table holds."""
    return (label(model), MEMBERS)


def column(model: type[models.Model] | str, name: str) -> Dep:
    """Return the dependency on the values of one column of a table."""
    return (label(model), COLUMN + name)


def is_column(stamp: Dep, model: type[models.Model]) -> bool:
    """Return whether stamp is a column stamp of model."""
    return stamp[0] == label(model) and stamp[1].startswith(COLUMN)


def all_rows(model: type[models.Model] | str) -> Dep:
    """Return the dependency every object entry of model carries."""
    return (label(model), ALL_ROWS)


def concrete(model: type[models.Model]) -> type[models.Model]:
    """Return the model whose table model writes (itself, or its proxy's base)."""
    return cast("type[models.Model]", model._meta.concrete_model or model)


def whole_table(model: type[models.Model] | str) -> list[Dep]:
    """Return the stamps of a write that can name neither its rows nor its
    columns."""
    return [table(model), all_rows(model), members(model)]


def related_model(field: Any) -> type[models.Model]:
    """Return the model a relation field points to."""
    return cast("type[models.Model]", field.related_model)


def through_model(field: Any) -> type[models.Model]:
    """Return the join model of a many-to-many field."""
    return cast("type[models.Model]", field.remote_field.through)


def for_instance(instance: models.Model) -> list[Dep]:
    """Return what a cached copy of instance (with its embedded relations) reads."""
    model = type(instance)
    deps = [row(model, instance.pk), all_rows(model)]
    for name in dependencies_of_model(model):
        field: Any = model._meta.get_field(name)
        related = related_model(field)
        deps.append(all_rows(related))
        if field.many_to_many:
            deps.append(all_rows(through_model(field)))
            for pk in _related_pks(instance, name):
                deps.append(row(related, pk))
        elif field.one_to_many:
            deps.append(table(related))
            for pk in _related_pks(instance, name):
                deps.append(row(related, pk))
        else:
            pk = getattr(instance, field.attname)
            if pk is not None:
                deps.append(row(related, pk))
    return deps


def _related_pks(instance: models.Model, name: str) -> Iterable[object]:
    prefetched = getattr(instance, "_prefetched_objects_cache", {})
    if name in prefetched:
        return [obj.pk for obj in prefetched[name]]
    return getattr(instance, name).values_list("pk", flat=True)


def for_models(*model_classes: type[models.Model]) -> list[Dep]:
    """Return the table dependencies of a list over models and their relations."""
    deps: list[Dep] = []
    for model in model_classes:
        deps.append(table(model))
        for name in dependencies_of_model(model):
            field = model._meta.get_field(name)
            deps.append(table(related_model(field)))
            if field.many_to_many:
                deps.append(table(through_model(field)))
    return deps


@lru_cache(maxsize=1)
def models_by_table() -> dict[str, type[models.Model]]:
    """Return every installed model (auto-created ones too) by its table."""
    from django.apps import apps

    return {
        m._meta.db_table: concrete(m)
        for m in apps.get_models(include_auto_created=True)
    }


def for_tables(table_names: Iterable[str]) -> list[Dep]:
    """Return table dependencies for database table names (from compiled SQL)."""
    by_table = models_by_table()
    return [table(by_table[name]) for name in table_names if name in by_table]
