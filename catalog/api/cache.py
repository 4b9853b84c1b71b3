"""Write-through of product detail responses: what a GET would have cached."""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse
from rest_framework.renderers import JSONRenderer

from caching import deps as dep
from caching import operations, registry, writethrough
from caching.api import response_fill
from caching.keys import response_key
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


def product_detail_keys(pk, instance=None) -> list[str]:
    """Return the keys of product pk's detail responses (deleted on a change)."""
    path = reverse("product-detail", args=[pk])
    return [response_key(path, vary) for vary in ("staff", "public")]


def slug_detail_keys(name: str):
    """Return the owner of the detail response of a category or tag."""

    def detail_keys(pk, instance=None) -> list[str]:
        if instance is None:  # keyed by slug: only the instance knows it
            return []
        return [response_key(reverse(f"{name}-detail", args=[instance.slug]))]

    return detail_keys


writethrough.register(Product, product_detail_fills)
registry.own_entries(Product, product_detail_keys)
registry.own_entries(Category, slug_detail_keys("category"))
registry.own_entries(Tag, slug_detail_keys("tag"))
writethrough.register(Category, slug_detail_fills("category", CategorySerializer))
writethrough.register(Tag, slug_detail_fills("tag", TagSerializer))
operations.register_pages(Product, "/api/products/", "/api/catalog/stats/")
operations.register_pages(Category, "/api/categories/")
operations.register_pages(Tag, "/api/tags/")
