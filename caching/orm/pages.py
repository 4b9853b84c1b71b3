"""
A list's ids, a page at a time, through the query cache: what a paginator
needs (``count()`` and slices) without loading the list.

The length and each page's ids are cached queries like any other:
``SELECT COUNT(*)`` and ``SELECT id ... ORDER BY ... LIMIT n OFFSET k``, both
cheap with the list's index. They depend on the membership of the tables they
read and the columns they filter and order on (caching.orm.columns): an
UPDATE of another column leaves them servable. (Caching the whole
id list instead would make every write cost a query of every id; a
``COUNT(*) OVER ()`` on the page query makes the database read every row.)

A page read once leaves a ``PagePlan``: the keys of its two entries and what
they depend on, all functions of the page's SQL. The next miss of the same
response key (same path, canonical query and caller variant, so the same
queryset) reads both entries in one round trip, with no filterset, queryset or
SQL compiled. Plans are kept in the process for at most the endpoint's TTL (a
queryset that reads the clock is no staler than its cached response) and
forgotten on any settings change; the entries themselves are checked against
their stamps as any read is.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

from caching import conf
from caching.memo import Memo
from caching.orm.invalidation import is_dirty
from caching.orm.managers import CachedQuerySet
from caching.store import Dep, Lookup, client, read_many


@dataclass(frozen=True, slots=True)
class PagePlan:
    """What one page of a list read: its length and ids entries."""

    model: Any
    count_key: str
    ids_key: str
    total: int  # the length it was made with: the same length, the same slice
    deps: tuple[Dep, ...]

    def current_ids(self, count: Lookup, ids: Lookup) -> list[Any] | None:
        """Return the page's ids from reads of its two entries, or None if
        either missed or the length is not the plan's."""
        if not (count.hit and ids.hit) or int(count.payload) != self.total:
            return None
        return pickle.loads(ids.payload)


class IdPages:
    """The ids of queryset for django.core.paginator.Paginator."""

    def __init__(
        self,
        queryset: CachedQuerySet | None,
        model: Any = None,
        fields: tuple[str, ...] = ("pk",),
    ) -> None:
        # A length and ids need no related rows: nor their joins, nor their deps.
        self.queryset = (
            None
            if queryset is None
            else queryset.prefetch_related(None).select_related(None)
        )
        self.model = model if queryset is None else queryset.model
        self.fields = fields  # what a page's items are: pks, or tuples of these
        self._total: int | None = None
        self._ids: Any = None
        self._pages_read: list[str | None] = []  # the cache key of each slice read
        self._plan: PagePlan | None = None
        self._planned_ids: list[Any] = []

    @classmethod
    def from_plan(cls, plan: PagePlan) -> IdPages | None:
        """Return the pages of a plan with its length and ids read in one
        round trip, or None if either entry is missing, stale or different in
        length (the caller builds its queryset)."""
        if is_dirty() or not conf.enabled():
            return None
        try:
            count, ids = read_many([plan.count_key, plan.ids_key], group="orm:pages")
        except client.CacheUnavailable:
            return None
        current = plan.current_ids(count, ids)
        if current is None:
            return None
        pages = cls(None, plan.model)
        pages._total, pages._plan, pages._planned_ids = plan.total, plan, current
        return pages

    def count(self) -> int:
        if self._total is None:
            assert self.queryset is not None
            self._total = self.queryset.count_cached()
        return self._total

    def __len__(self) -> int:
        return self.count()

    def ids(self) -> Any:  # a CachedQuerySet of primary keys (or of fields)
        if self._ids is None:
            assert self.queryset is not None
            flat = len(self.fields) == 1
            self._ids = self.queryset.cached().values_list(*self.fields, flat=flat)
        return self._ids

    def __getitem__(self, index: slice) -> list[Any]:
        if self._plan is not None:  # the paginator asks for the planned slice
            return self._planned_ids
        page = self.ids()[index]
        found = list(page)
        self._pages_read.append(page.cache_key)
        return found

    def dependencies(self) -> list[Dep]:
        """Return what the length and the pages depend on."""
        if self._plan is not None:
            return list(self._plan.deps)
        assert self.queryset is not None
        return sorted(
            {*self.queryset.dependencies(rows=False), *self.ids().dependencies()}
        )

    def plan(self) -> PagePlan | None:
        """Return the plan of the one page read through the cache, if any."""
        if self._plan is not None:
            return self._plan
        count_key = getattr(self.queryset, "count_cache_key", None)
        page_key = self._pages_read[0] if len(self._pages_read) == 1 else None
        if count_key is None or page_key is None:
            return None
        return PagePlan(
            self.model,
            count_key,
            page_key,
            self.count(),
            tuple(self.dependencies()),
        )


# Kept under the page's response key; a plan is about a kilobyte.
plans: Memo[PagePlan] = Memo(limit=4_096)
