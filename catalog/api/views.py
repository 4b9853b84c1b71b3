"""Catalog endpoints. Reads go through the response cache, writes through services."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db import DatabaseError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from caching import deps as dep
from caching import params
from caching.api import CachedReadsMixin, cache_api_result, vary_staff
from caching.params import Param
from catalog import rates, selectors, services
from catalog.api.filters import ProductFilter
from catalog.api.serializers import (
    CatalogStatsSerializer,
    CategorySerializer,
    PriceSerializer,
    ProductSerializer,
    TagSerializer,
)
from catalog.models import Category, Product, Tag

CENT = Decimal("0.01")
PAGE_PARAMS = (
    Param("page", params.integer(default=1, words=("last",))),
    Param("page_size", params.integer(cap=100, default=20)),
)
MAX_PRICE = Decimal("99999999.99")  # Product.price: 10 digits, 2 places
LIST_PARAMS = (
    *PAGE_PARAMS,
    Param("category", params.text(max_length=100)),
    Param("tag", params.text(max_length=50)),
    Param("min_price", params.decimal(
        places=2, low=Decimal(0), high=MAX_PRICE + CENT, round_up=True)),
    Param("max_price", params.decimal(
        places=2, low=-CENT, high=MAX_PRICE, round_up=False)),
    Param("in_stock", params.choice("true", "false")),
    Param("search", params.text()),
    Param("ordering", params.ordering(
        "id", "price", "name", "created_at", default="id")),
)  # fmt: skip


class IsStaffOrReadOnly(permissions.BasePermission):
    """Anyone reads; only staff write (anonymous 401, others 403)."""

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_staff)


class RatesUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Exchange rates are unavailable; try again later."
    default_code = "rates_unavailable"


class CategoryViewSet(CachedReadsMixin, viewsets.ModelViewSet):
    queryset = Category.objects.all().order_by("name", "id")
    serializer_class = CategorySerializer
    permission_classes = [IsStaffOrReadOnly]
    lookup_field = "slug"
    lookup_value_regex = r"[-a-zA-Z0-9_]+"  # a slug: anything else is a 404

    @cache_api_result(query=PAGE_PARAMS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @cache_api_result()
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


class TagViewSet(CategoryViewSet):
    queryset = Tag.objects.all().order_by("name", "id")
    serializer_class = TagSerializer


class ProductViewSet(CachedReadsMixin, viewsets.ModelViewSet):
    serializer_class = ProductSerializer
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = ProductFilter
    lookup_value_regex = r"[0-9]+"  # an id: anything else is a 404
    read_asof: int | None = None  # of the product a write read (get_object)

    def get_queryset(self):
        return selectors.product_list(user=self.request.user)

    def filter_queryset(self, queryset):
        # List filters do not narrow one product (nor its cache key, query=()).
        return queryset if self.detail else super().filter_queryset(queryset)

    def get_object(self):
        pk = self.kwargs["pk"]  # ASCII digits: lookup_value_regex
        if self.action not in {"update", "partial_update"}:
            return super().get_object()
        # A write reads the row it changes through the object cache and writes
        # only the fields sent (ProductSerializer.update); the write-through then
        # stores that copy unless another write touched it since its asof
        # (caching.writethrough.store_written), and answers with what it stored.
        try:
            product, self.read_asof = Product.objects.get_cached_as_of(pk=int(pk))
        except Product.DoesNotExist:
            raise NotFound() from None
        if not product.is_visible_to(self.request.user):
            raise NotFound()
        self.check_object_permissions(self.request, product)
        self.fetched_object = product
        return product

    @cache_api_result(vary_on=(vary_staff,), query=LIST_PARAMS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @cache_api_result(vary_on=(vary_staff,))
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    def perform_create(self, serializer):
        services.product_save(serializer=serializer)

    def perform_update(self, serializer):
        try:
            services.product_save(serializer=serializer, read_asof=self.read_asof)
        except DatabaseError:  # an update of no row: deleted since it was read?
            if Product.objects.uncached().filter(pk=serializer.instance.pk).exists():
                raise
            raise NotFound() from None

    def perform_destroy(self, instance):
        services.product_delete(product=instance)

    @extend_schema(
        parameters=[OpenApiParameter("currency", OpenApiTypes.STR, required=True)],
        responses=PriceSerializer,
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    @cache_api_result(
        vary_on=(vary_staff,),
        query=(Param("currency", params.code(length=3)),),
        deps=lambda view, response: [
            *dep.for_instance(view.fetched_object),
            rates.RATES_DEP,
        ],
    )
    def price(self, request, pk=None):
        """Return the product's price converted with the upstream's rates."""
        currency = request.query_params.get("currency", "")  # canonical: "USD"
        if not currency:
            raise ValidationError(
                {"currency": ["A three-letter currency code is required."]}
            )
        product = self.get_object()
        try:
            current = rates.get_rates()
        except rates.RatesUnavailable:
            raise RatesUnavailable() from None
        if currency not in current.rates:
            known = ", ".join(sorted(current.rates))
            raise ValidationError(
                {"currency": [f"Unknown currency '{currency}'; known: {known}."]}
            )
        rate = current.rates[currency]
        converted = (product.price * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
        return Response(
            {
                "product": product.pk,
                "currency": currency,
                "price": str(converted),
                "rate": str(rate),
                "rates_date": current.date,
            }
        )


class CatalogStatsView(CachedReadsMixin, APIView):
    """Product counts and per-category price figures; the same for everyone."""

    permission_classes = [AllowAny]

    @extend_schema(responses=CatalogStatsSerializer)
    @cache_api_result(deps=lambda view, response: dep.for_models(Product, Category))
    def get(self, request):
        return Response(selectors.catalog_stats())
