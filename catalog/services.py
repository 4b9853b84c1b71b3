"""Writes to the catalog: through the write-through manager, given fields."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from catalog.models import Product, Tag


def product_create(*, tags: Iterable[Tag] | None = None, **fields: Any) -> Product:
    """Create a product; its cached entries are filled after commit. Returns the
    row as the next GET will serve it (relations loaded)."""
    with transaction.atomic():
        product = Product(**fields)
        product.save()
        if tags:
            product.tags.set(tags)
        stored: list[Product] = []
        Product.objects.refill_on_commit(product, then=stored.append)
    return stored[0] if stored else product


def product_update(
    *,
    product: Product,
    read_asof: int | None = None,
    tags: Iterable[Tag] | None = None,
    **fields: Any,
) -> Product:
    """Write only the given columns of product (a concurrent change to another
    column stands) and, if given, replace its tags; refill its cached entries
    after commit. Returns the row as the next GET will serve it.

    ``read_asof``: product was read from the cache as of that clock value
    (``selectors.product_for_update``); if no other write touched it since, the
    refill stores this copy without reading the row back.

    Raises DatabaseError if the row is gone (no row updated).
    """
    with transaction.atomic():
        for name, value in fields.items():
            setattr(product, name, value)
        product.save(update_fields=[*fields, "updated_at"])
        if tags is not None:
            product.tags.set(tags)
        stored: list[Product] = []
        Product.objects.refill_on_commit(
            product, then=stored.append, read_asof=read_asof
        )
    return stored[0] if stored else product


def product_delete(*, product: Product) -> None:
    """Delete a product; its entries are invalidated after commit."""
    product.delete()
