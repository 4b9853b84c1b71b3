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

from caching import CachedReadsMixin, cache
from catalog import rates, selectors, services
from catalog.api import endpoints
from catalog.api.filters import ProductFilter
from catalog.api.serializers import (
    CatalogStatsSerializer,
    CategorySerializer,
    PriceSerializer,
    ProductSerializer,
    TagSerializer,
)
from catalog.models import Category, Product, Tag


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

    @cache(endpoints.category_list)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @cache(endpoints.category_detail)
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)


class TagViewSet(CategoryViewSet):
    queryset = Tag.objects.all().order_by("name", "id")
    serializer_class = TagSerializer

    @cache(endpoints.tag_list)
    def list(self, request, *args, **kwargs):
        return viewsets.ModelViewSet.list(self, request, *args, **kwargs)

    @cache(endpoints.tag_detail)
    def retrieve(self, request, *args, **kwargs):
        return viewsets.ModelViewSet.retrieve(self, request, *args, **kwargs)


class ProductViewSet(CachedReadsMixin, viewsets.ModelViewSet):
    serializer_class = ProductSerializer
    permission_classes = [IsStaffOrReadOnly]
    filterset_class = ProductFilter
    lookup_value_regex = r"[0-9]+"  # an id: anything else is a 404

    def get_queryset(self):
        return selectors.product_list(user=self.request.user)

    def filter_queryset(self, queryset):
        # List filters do not narrow one product (nor its cache key, query=()).
        return queryset if self.detail else super().filter_queryset(queryset)

    @cache(endpoints.product_list)
    def list(self, request, *args, **kwargs):
        # On a response miss: the page's ids from cached queries, the products
        # from their detail entries (caching's ORM tier, Russian-doll).
        return self.list_from_entries(request, items=endpoints.product_detail)

    @cache(endpoints.product_detail)
    def retrieve(self, request, *args, **kwargs):
        return self.detail_response(request, self.get_object())

    def detail_response(self, request, product: Product) -> Response:
        """A product's detail: from the serializer class's one instance (no
        fields copied per request, a fifth of an uncached detail's CPU; the
        bytes write-through stores), but for the browsable API, whose form
        needs a serializer of its own."""
        if request.accepted_renderer.format == "api":
            return Response(self.get_serializer(product).data)
        return Response(ProductSerializer.represent(product))

    def perform_create(self, serializer):
        serializer.instance = services.product_create(**serializer.validated_data)

    def update(self, request, *args, **kwargs):
        """PUT and PATCH: the product is read through the object cache (a
        selector), and the service stores that copy, changed, unless another
        write touched it since (write-through without reading the row back)."""
        try:
            product, read_asof = selectors.product_for_update(
                pk=int(kwargs["pk"]), user=request.user
            )
        except Product.DoesNotExist:
            raise NotFound() from None
        self.check_object_permissions(request, product)
        serializer = self.get_serializer(
            product, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        try:
            product = services.product_update(
                product=product, read_asof=read_asof, **serializer.validated_data
            )
        except DatabaseError:  # an update of no row: deleted since it was read?
            if Product.objects.uncached().filter(pk=product.pk).exists():
                raise
            raise NotFound() from None
        return self.detail_response(request, product)

    def perform_destroy(self, instance):
        services.product_delete(product=instance)

    @extend_schema(
        parameters=[OpenApiParameter("currency", OpenApiTypes.STR, required=True)],
        responses=PriceSerializer,
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    @cache(endpoints.product_price)
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
    @cache(endpoints.catalog_stats)
    def get(self, request):
        return Response(selectors.catalog_stats())
