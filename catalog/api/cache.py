"""Write-through of product detail responses: what a GET would have cached."""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse
from rest_framework.renderers import JSONRenderer

from caching import deps as dep
from caching import operations, writethrough
from caching.api import response_fill
from caching.serializers import represent
from caching.store import Fill
from catalog.api.serializers import CategorySerializer, ProductSerializer, TagSerializer
from catalog.models import Category, Product, Tag


def product_detail_fills(product: Product) -> Iterable[tuple[str, Fill]]:
    """Return the detail responses of product for staff and, if active, for all."""
    body = JSONRenderer().render(represent(ProductSerializer, product))
    path = reverse("product-detail", args=[product.pk])
    deps = dep.for_instance(product)
    fills = [response_fill(path, "staff", body, deps)]
    if product.is_active:
        fills.append(response_fill(path, "public", body, deps))
    return fills


def slug_detail_fills(name: str, serializer_class):
    """Return a filler of the detail response of a category or tag."""

    def fills(instance) -> Iterable[tuple[str, Fill]]:
        body = JSONRenderer().render(represent(serializer_class, instance))
        path = reverse(f"{name}-detail", args=[instance.slug])
        return [response_fill(path, "", body, dep.for_instance(instance))]

    return fills


writethrough.register(Product, product_detail_fills)
writethrough.register(Category, slug_detail_fills("category", CategorySerializer))
writethrough.register(Tag, slug_detail_fills("tag", TagSerializer))
operations.register_pages(Product, "/api/products/", "/api/catalog/stats/")
operations.register_pages(Category, "/api/categories/")
operations.register_pages(Tag, "/api/tags/")
