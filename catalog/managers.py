"""Query fragments of the catalog, on top of the cached queryset."""

from __future__ import annotations

from django.db.models import Avg, Count, Max, Min, Q

from caching import CachedQuerySet, WriteThroughManager


class CategoryQuerySet(CachedQuerySet):
    def with_active_stats(self) -> CategoryQuerySet:
        active = Q(products__is_active=True)
        return self.annotate(
            count=Count("products", filter=active),
            min_price=Min("products__price", filter=active),
            max_price=Max("products__price", filter=active),
            avg_price=Avg("products__price", filter=active),
        ).order_by("slug")


class ProductQuerySet(CachedQuerySet):
    def active(self) -> ProductQuerySet:
        return self.filter(is_active=True)

    def visible_to(self, user) -> ProductQuerySet:
        """Staff see every product; everyone else only active ones."""
        return self if user.is_staff else self.active()

    def with_relations(self) -> ProductQuerySet:
        return self.select_related("category").prefetch_related("tags")


CategoryManager = WriteThroughManager.from_queryset(CategoryQuerySet)
ProductManager = WriteThroughManager.from_queryset(ProductQuerySet)
