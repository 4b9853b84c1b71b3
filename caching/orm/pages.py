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
"""

from __future__ import annotations

from typing import Any

from caching.orm.managers import CachedQuerySet
from caching.store import Dep


class IdPages:
    """The ids of queryset for django.core.paginator.Paginator."""

    def __init__(self, queryset: CachedQuerySet) -> None:
        self.queryset = queryset.prefetch_related(None)
        self._total: int | None = None
        self._ids: Any = None

    def count(self) -> int:
        if self._total is None:
            self._total = self.queryset.count_cached()
        return self._total

    def __len__(self) -> int:
        return self.count()

    def ids(self) -> Any:  # a CachedQuerySet of primary keys
        if self._ids is None:
            self._ids = self.queryset.cached().values_list("pk", flat=True)
        return self._ids

    def __getitem__(self, index: slice) -> list[Any]:
        return list(self.ids()[index])

    def dependencies(self) -> list[Dep]:
        """Return what the length and the pages depend on."""
        return sorted(
            {*self.queryset.dependencies(rows=False), *self.ids().dependencies()}
        )
