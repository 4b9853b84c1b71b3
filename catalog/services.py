"""Writes to the catalog: through the write-through manager."""

from __future__ import annotations

from django.db import transaction
from rest_framework.serializers import BaseSerializer

from catalog.models import Product


def product_save(*, serializer: BaseSerializer) -> Product:
    """Create or update a product; its cached detail is refilled after commit.

    The serializer then answers with the row the refill read back and stored
    (relations loaded): the response is what the next GET will serve.
    """
    with transaction.atomic():
        product = serializer.save()
        Product.objects.refill_on_commit(
            product, then=lambda fresh: setattr(serializer, "instance", fresh)
        )
    return serializer.instance


def product_delete(*, product: Product) -> None:
    """Delete a product; its entries are invalidated after commit."""
    product.delete()
