"""Write-through of product detail responses: what a GET would have cached."""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse
from rest_framework.renderers import JSONRenderer

from caching import deps as dep
from caching import writethrough
from caching.api import response_fill
from caching.store import Fill
from catalog.api.serializers import ProductSerializer
from catalog.models import Product


def product_detail_fills(product: Product) -> Iterable[tuple[str, Fill]]:
    """Return the detail responses of product for staff and, if active, for all."""
    body = JSONRenderer().render(ProductSerializer(product).data)
    path = reverse("product-detail", args=[product.pk])
    deps = dep.for_instance(product)
    fills = [response_fill(path, "staff", body, deps)]
    if product.is_active:
        fills.append(response_fill(path, "public", body, deps))
    return fills


writethrough.register(Product, product_detail_fills)
