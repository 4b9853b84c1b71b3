"""
What a query reads, table by table and column by column: the dependencies of a
cached query that only rows coming or going, or a change to a column it reads,
can make stale (caching.orm.deps: ``members`` and ``column``).

A list's ids ordered by price, filtered on ``is_active``, read the product
table's membership and its ``id``, ``is_active`` and ``price`` columns; an
``UPDATE`` of ``stock`` changes none of them, so the ids stay servable, where a
table stamp would have thrown them away with every write.

Found from Django's own query: the compiled select, where and order-by
expressions and the joins' columns. Anything this cannot see through (raw SQL,
``extra()``, subqueries, a union, a filtered relation, a join with an extra
restriction, more than ``MAX_COLUMNS`` columns) returns None, and the caller
keeps its table stamps.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.expressions import Col, RawSQL
from django.db.models.sql.datastructures import Join
from django.db.models.sql.where import ExtraWhere

from caching.orm import deps as dep
from caching.store import Dep

MAX_COLUMNS = 12  # each is one more stamp a hit checks
Column = tuple[type[models.Model], str]


def _walk(expression: Any, found: set[Column]) -> bool:
    """Add the columns expression reads; False if it reads what we cannot see."""
    if isinstance(expression, Col):
        found.add((dep.concrete(expression.target.model), expression.target.column))
        return True
    if isinstance(expression, RawSQL | ExtraWhere) or hasattr(expression, "query"):
        return False  # raw text, or a subquery (Subquery, Exists, __in=queryset)
    sources = getattr(expression, "get_source_expressions", None)
    if sources is None:
        return True  # a plain value
    return all(_walk(child, found) for child in sources() if child is not None)


def _tables(query: Any, found: set[Column]) -> list[type[models.Model]] | None:
    """Return the models of the tables query reads (adding the join columns to
    found), or None."""
    by_table = dep.models_by_table()
    tables = []
    for alias, table in query.alias_map.items():
        if not query.alias_refcount[alias]:
            continue  # as the compiler's FROM clause: an unused alias is not in it
        model = by_table.get(table.table_name)
        if model is None:
            return None
        tables.append(model)
        if isinstance(table, Join):
            join: Any = table  # django-stubs lag behind Join's join_fields
            if join.filtered_relation is not None or join.join_fields is None:
                return None
            restriction = join.join_field.get_extra_restriction(
                join.table_alias, join.parent_alias
            )
            if restriction is not None:
                return None
            for lhs, rhs in join.join_fields:
                found.add((dep.concrete(lhs.model), lhs.column))
                found.add((dep.concrete(rhs.model), rhs.column))
    return tables


_known: dict[tuple[str, str, str, bool], list[Dep] | None] = {}


def query_deps_of(queryset: Any, sql: str, *, rows: bool = True) -> list[Dep] | None:
    """query_deps(), remembered by the query's SQL: the same text reads the same
    columns (a list miss would compile its queries once more for them)."""
    memo = (queryset.db, queryset.model._meta.label_lower, sql, rows)
    if memo not in _known:
        if len(_known) >= 4096:
            _known.clear()
        _known[memo] = query_deps(queryset, rows=rows)
    return _known[memo]


def query_deps(queryset: Any, *, rows: bool = True) -> list[Dep] | None:
    """Return the membership and column dependencies of queryset's query, or
    None when they cannot be told. ``rows=False``: of its count (what it
    filters and joins on, not what it selects or orders by)."""
    query = queryset.query.clone()  # compiling adds joins to the query it compiles
    if query.combinator or query.extra or query.extra_tables:
        return None
    compiler = query.get_compiler(using=queryset.db)
    extra_select, order_by, _ = compiler.pre_sql_setup()
    if extra_select:
        return None
    found: set[Column] = set()
    expressions: list[Any] = [compiler.where, compiler.having]
    if rows:
        expressions += [col for col, _, _ in compiler.select]
        expressions += [expr for expr, _ in order_by]
    if not all(_walk(e, found) for e in expressions if e is not None):
        return None
    tables = _tables(query, found)
    if tables is None or len(found) > MAX_COLUMNS:
        return None
    return sorted(
        {dep.members(model) for model in tables}
        | {dep.column(model, name) for model, name in found}
    )
