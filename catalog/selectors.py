"""Reads of the catalog."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from catalog.managers import ProductQuerySet
from catalog.models import Category, Product

CENT = Decimal("0.01")


def product_list(*, user) -> ProductQuerySet:
    """Return the products user may see, with what their JSON embeds."""
    return Product.objects.visible_to(user).with_relations().order_by("id")


def product_for_update(*, pk: int, user) -> tuple[Product, int | None]:
    """Return the product pk that user may change, read through the object
    cache, and the clock value the copy is fresh as of (None: read from the
    database). A write then stores that copy, changed, without reading the row
    back (caching's write-through, "compare versions").

    Raises Product.DoesNotExist when there is none, or user may not see it.
    """
    product, asof = Product.objects.get_cached_as_of(pk=pk)
    if not product.is_visible_to(user):
        raise Product.DoesNotExist
    return product, asof


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(CENT, ROUND_HALF_UP))


def catalog_stats() -> dict:
    """Return product counts and per-category figures over active products."""
    categories = Category.objects.with_active_stats().values(
        "slug", "count", "min_price", "max_price", "avg_price"
    )
    return {
        "products": Product.objects.count(),
        "active_products": Product.objects.active().count(),
        "categories": [
            {
                "slug": row["slug"],
                "count": row["count"],
                "min_price": _money(row["min_price"]),
                "max_price": _money(row["max_price"]),
                "avg_price": _money(row["avg_price"]),
            }
            for row in categories
        ],
    }
