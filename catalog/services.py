"""Writes to the catalog: through the write-through manager."""

from __future__ import annotations

from django.db import transaction
from rest_framework.serializers import BaseSerializer

from catalog.models import Product


def product_save(
    *, serializer: BaseSerializer, read_asof: int | None = None
) -> Product:
    """Create or update a product; its cached detail is refilled after commit.

    ``read_asof``: the product being updated was read from the cache as of that
    clock value (``get_cached_as_of``). The serializer then answers with the row
    the refill stored (relations loaded): the response is what the next GET will
    serve.
    """
    with transaction.atomic():
        product = serializer.save()
        Product.objects.refill_on_commit(
            product,
            then=lambda fresh: setattr(serializer, "instance", fresh),
            read_asof=read_asof,
        )
    return serializer.instance


def product_delete(*, product: Product) -> None:
    """Delete a product; its entries are invalidated after commit."""
    product.delete()
