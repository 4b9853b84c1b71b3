"""Writes to the catalog: through the write-through manager."""

from __future__ import annotations

from django.db import transaction
from rest_framework.serializers import BaseSerializer

from catalog.models import Product


def product_save(*, serializer: BaseSerializer) -> Product:
    """Create or update a product; its cached detail is refilled after commit."""
    with transaction.atomic():
        product = serializer.save()
        Product.objects.refill_on_commit(product)
    return product


def product_delete(*, product: Product) -> None:
    """Delete a product; its entries are invalidated after commit."""
    product.delete()
