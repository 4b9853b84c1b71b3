"""
Every write Django executes invalidates, whichever code issued it.

Model signals miss most write paths: ``QuerySet.update()``, ``bulk_create()``,
``bulk_update()``, fast deletes, managers that are not ours (``auth.User``,
``Token``, auto-created M2M through models) and raw SQL. So writes are caught
where Django executes them, as django-cachalot does:

- the ORM's INSERT, UPDATE and DELETE compilers: they know the model and, when
  the statement names them, the primary keys. A statement that names its rows
  stamps those rows and the table; one that does not (``filter(...).update()``)
  stamps the table and "all rows". Writes to an M2M through table stamp the rows
  on the side whose cached copies embed the relation (a product's tags);
- a wrapper around ``cursor.execute()`` on every connection for SQL sent by hand:
  it knows only the text, so it stamps each tracked table it names, whole
  (membership included).

The stamps go through ``invalidation.invalidate_on_commit``: after the commit,
with an outbox row inside the transaction. Writes made outside Django (psql,
another service) are not seen: they call ``caching.invalidate()`` or run
``cache_clear --model``.

Every model is watched except those of ``CACHE_UNTRACKED_APPS`` (sessions, the
admin log, content types, migrations, the outbox itself): a cached query may
join any table, and a watched write costs only an outbox row and a stamp.
During ``migrate`` capture is suspended; if migrations ran, every watched model
is invalidated once they are done.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from django.apps import apps
from django.db import connections, models
from django.db.backends.signals import connection_created
from django.db.models.constants import OnConflict
from django.db.models.expressions import Col
from django.db.models.lookups import Exact, In
from django.db.models.signals import post_migrate, pre_migrate
from django.db.models.sql import compiler as sql
from django.db.models.sql.where import AND, WhereNode

from caching import conf
from caching.orm import deps as dep
from caching.orm.invalidation import invalidate_on_commit, owned_keys
from caching.orm.registry import embedding_sides
from caching.store import Dep

ORM = "_caching_orm_depth"  # on a connection: > 0 while a compiler executes


class _Migrating(threading.local):
    active = False


_migrating = _Migrating()


# --- which models ---------------------------------------------------------------


@lru_cache(maxsize=1024)
def watched(model: type[models.Model]) -> bool:
    """Return whether writes to model must invalidate."""
    return model._meta.app_label not in conf.untracked_apps()


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, type[models.Model]], re.Pattern[str] | None]:
    by_table = {
        m._meta.db_table.lower(): dep.concrete(m)
        for m in apps.get_models(include_auto_created=True)
        if watched(m)
    }
    if not by_table:
        return by_table, None
    names = "|".join(sorted((re.escape(t) for t in by_table), key=len, reverse=True))
    return by_table, re.compile(rf"(?<![\w$])({names})(?![\w$])", re.IGNORECASE)


def forget_models() -> None:
    """Forget what is watched (tests that change CACHE_UNTRACKED_APPS)."""
    watched.cache_clear()
    _tables.cache_clear()


# --- rows named by a statement ---------------------------------------------------


def _equalities(where: WhereNode) -> Iterator[tuple[Any, list]]:
    """Yield (field, values) of every `field = v` / `field IN (...)` that bounds
    the rows of an AND-only where clause (other conditions only narrow it)."""
    if where.connector != AND or where.negated:
        return
    for child in where.children:
        if isinstance(child, WhereNode):
            yield from _equalities(child)
        elif isinstance(child, Exact | In) and isinstance(child.lhs, Col):
            values = list(child.rhs) if isinstance(child, In) else [child.rhs]
            if not any(hasattr(v, "resolve_expression") for v in values):
                yield child.lhs.target, values


def _values_of(where: WhereNode, field: Any) -> list | None:
    for target, values in _equalities(where):
        if target == field:
            return values
    return None


def _through_rows(model: type[models.Model], values_of: Callable) -> list[Dep]:
    """Stamps of a write to a through table: the rows of each embedding side."""
    stamps: list[Dep] = []
    for fk, side in embedding_sides(model):
        values = values_of(fk)
        if values is None:
            return [dep.all_rows(model)]
        stamps += [dep.row(side, value) for value in values]
    return stamps


def _written(
    model: type[models.Model], where: WhereNode, columns: list[str] | None
) -> tuple[list[Dep], list]:
    """Return the stamps of an UPDATE (of these columns) or a DELETE (columns
    None) of model, and its pks if named."""
    stamps = [dep.table(model)]
    if columns is None:
        stamps.append(dep.members(model))
    else:
        stamps += [dep.column(model, name) for name in columns]
    if embedding_sides(model):
        return stamps + _through_rows(model, lambda fk: _values_of(where, fk)), []
    pks = _values_of(where, model._meta.pk)
    if pks is None:
        return stamps + [dep.all_rows(model)], []
    return stamps + [dep.row(model, pk) for pk in pks], pks


def _inserted(model: type[models.Model], query: Any) -> list[Dep]:
    stamps = [dep.table(model), dep.members(model)]
    if query.on_conflict == OnConflict.UPDATE:  # existing rows changed too
        stamps.append(dep.all_rows(model))
    if embedding_sides(model):
        stamps += _through_rows(
            model, lambda fk: [getattr(obj, fk.attname) for obj in query.objs]
        )
    return stamps


# --- the compiler hooks ----------------------------------------------------------


def _capture(
    compiler: Any, run: Callable[[], Any], stamps_of: Callable[[], tuple]
) -> Any:
    connection = compiler.connection
    setattr(connection, ORM, getattr(connection, ORM, 0) + 1)
    try:
        result = run()
    finally:
        setattr(connection, ORM, getattr(connection, ORM) - 1)
    model = dep.concrete(compiler.query.model)
    if watched(model) and not _migrating.active:
        stamps, pks = stamps_of()
        invalidate_on_commit(
            stamps,
            owned=[key for pk in pks for key in owned_keys(model, pk)],
            using=connection.alias,
        )
    return result


def _insert(original: Callable) -> Callable:
    def execute_sql(self, *args, **kwargs):
        return _capture(
            self,
            lambda: original(self, *args, **kwargs),
            lambda: (_inserted(dep.concrete(self.query.model), self.query), []),
        )

    return execute_sql


def _columns_set(compiler: Any) -> list[str] | None:
    """Return the columns an UPDATE sets (None for a DELETE)."""
    values = getattr(compiler.query, "values", None)
    if not isinstance(compiler, sql.SQLUpdateCompiler) or values is None:
        return None
    return sorted({field.column for field, _, _ in values})


def _update_or_delete(original: Callable) -> Callable:
    def execute_sql(self, *args, **kwargs):
        return _capture(
            self,
            lambda: original(self, *args, **kwargs),
            lambda: _written(
                dep.concrete(self.query.model), self.query.where, _columns_set(self)
            ),
        )

    return execute_sql


_PATCHED = "_caching_capture"


def patch_compilers() -> None:
    """Wrap the INSERT, UPDATE and DELETE compilers (once)."""
    for cls, wrap in (
        (sql.SQLInsertCompiler, _insert),
        (sql.SQLUpdateCompiler, _update_or_delete),
        (sql.SQLDeleteCompiler, _update_or_delete),
    ):
        if getattr(cls.execute_sql, _PATCHED, False):
            continue
        wrapped = wrap(cls.execute_sql)  # SQLDeleteCompiler: SQLCompiler's own
        setattr(wrapped, _PATCHED, True)
        cls.execute_sql = wrapped  # type: ignore[method-assign]


# --- SQL sent by hand -------------------------------------------------------------

_READ_ONLY = (
    "SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT", "SET ",
    "SHOW", "PRAGMA", "EXPLAIN", "CREATE", "ALTER", "DROP", "VALUES",
)  # fmt: skip
_WRITES = re.compile(r"\b(insert|update|delete|truncate|replace|merge|copy)\b", re.I)


def tables_written(sql_text: str) -> list[type[models.Model]]:
    """Return the watched models whose tables a hand-written statement may write."""
    head = sql_text.lstrip()[:9].upper()
    if head.startswith(_READ_ONLY) or not _WRITES.search(sql_text):
        return []  # NOTE: DDL is migrate's, and migrate invalidates once at its end
    by_table, pattern = _tables()
    if pattern is None:
        return []
    found = {by_table[m.group(1).lower()] for m in pattern.finditer(sql_text)}
    return sorted(found, key=lambda m: m._meta.label)


def _raw_sql_wrapper(execute, sql_text, params, many, context):
    result = execute(sql_text, params, many, context)
    connection = context["connection"]
    if getattr(connection, ORM, 0) or _migrating.active:
        return result
    if isinstance(sql_text, bytes):
        sql_text = sql_text.decode(errors="replace")
    written = tables_written(str(sql_text))
    if written:
        invalidate_on_commit(
            [stamp for model in written for stamp in dep.whole_table(model)],
            using=connection.alias,
        )
    return result


def _wrap_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    if _raw_sql_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_raw_sql_wrapper)


# --- migrate ---------------------------------------------------------------------


def _before_migrate(sender: Any, **kwargs: Any) -> None:
    _migrating.active = True


def _after_migrate(sender: Any, plan: Any = None, using: str = "default", **kw: Any):
    if not _migrating.active:
        return  # once per migrate, not once per app
    _migrating.active = False
    forget_models()
    if plan:  # schema or data changed under every entry
        stamps = [
            stamp
            for model in apps.get_models(include_auto_created=True)
            if watched(model)
            for stamp in dep.whole_table(model)
        ]
        invalidate_on_commit(stamps, using=using)


def install() -> None:
    """Capture every write from now on (called from CachingConfig.ready())."""
    patch_compilers()
    connection_created.connect(_wrap_connection, dispatch_uid="caching.orm.capture")
    for connection in connections.all(initialized_only=True):
        _wrap_connection(None, connection)
    pre_migrate.connect(_before_migrate, dispatch_uid="caching.before_migrate")
    post_migrate.connect(_after_migrate, dispatch_uid="caching.after_migrate")
