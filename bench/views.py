"""Bench-only views (only with BENCH_ENDPOINTS=1): the constant-body ceiling of
`make bench`, and a product's detail as plain DRF serves it (bench.miss_cost's
yardstick)."""

from __future__ import annotations

from functools import cache

from django.http import HttpRequest, HttpResponse
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny

from catalog import selectors
from catalog.api.serializers import ProductSerializer


@cache
def _body(size: int) -> bytes:
    return b'{"x":"' + b"x" * max(0, size - 8) + b'"}'


def constant(request: HttpRequest) -> HttpResponse:
    """Return a constant JSON body of ?size= bytes."""
    size = min(int(request.GET.get("size", "512") or 512), 1_000_000)
    return HttpResponse(_body(size), content_type="application/json")


class PlainProductSerializer(ProductSerializer):
    """The product's serializer as DRF builds it: its fields from the model,
    for every instance (without FieldsBuiltOnce)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return serializers.ModelSerializer.get_fields(self)


class PlainProductDetail(generics.RetrieveAPIView):
    """A product's detail as stock DRF serves it: no cache, a serializer built
    per request (the same queryset, fields and bytes as /api/products/<pk>/)."""

    serializer_class = PlainProductSerializer
    permission_classes = [AllowAny]

    def get_queryset(self):
        return selectors.product_list(user=self.request.user)
