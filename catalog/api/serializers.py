"""Catalog JSON: categories and tags by slug on writes, nested on reads."""

from __future__ import annotations

from django.utils.text import slugify
from rest_framework import serializers

from caching import FieldsBuiltOnce
from catalog.models import Category, Product, Tag


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["id", "name", "slug"]


class TagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "slug"]


class SlugField(serializers.SlugRelatedField):
    """DRF's SlugRelatedField, refusing what no slug can be before querying (a
    NUL byte would fail inside PostgreSQL)."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or "\x00" in data or len(data) > 220:
            self.fail("invalid")
        return super().to_internal_value(data)


class CategoryField(SlugField):
    """Written as the category's slug, read as {"id", "name", "slug"}."""

    def to_representation(self, value: Category) -> dict:
        return {"id": value.pk, "name": value.name, "slug": value.slug}

    def get_choices(self, cutoff: int | None = None) -> dict:
        # The browsable API's form offers what is written, slugs (DRF keys its
        # choices by to_representation: a dict here, which cannot be a key).
        queryset = self.get_queryset()
        if cutoff is not None:
            queryset = queryset[:cutoff]
        return {item.slug: self.display_value(item) for item in queryset}


class ProductSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    category = CategoryField(slug_field="slug", queryset=Category.objects.all())
    tags = SlugField(
        many=True, slug_field="slug", queryset=Tag.objects.all(), required=False
    )
    slug = serializers.SlugField(max_length=220, required=False)

    class Meta:
        model = Product
        fields = [
            "id", "sku", "name", "slug", "description", "price", "stock",
            "is_active", "category", "tags", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("slug") and "name" in attrs:
            attrs["slug"] = slugify(attrs["name"])[:220] or "product"
        return attrs


class PriceSerializer(serializers.Serializer):
    """The converted price of a product (for the schema)."""

    product = serializers.IntegerField()
    currency = serializers.CharField()
    price = serializers.DecimalField(max_digits=14, decimal_places=2)
    rate = serializers.DecimalField(max_digits=14, decimal_places=6)
    rates_date = serializers.DateField()


class CategoryStatsSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    count = serializers.IntegerField()
    min_price = serializers.DecimalField(
        max_digits=10, decimal_places=2, allow_null=True
    )
    max_price = serializers.DecimalField(
        max_digits=10, decimal_places=2, allow_null=True
    )
    avg_price = serializers.DecimalField(
        max_digits=10, decimal_places=2, allow_null=True
    )


class CatalogStatsSerializer(serializers.Serializer):
    products = serializers.IntegerField()
    active_products = serializers.IntegerField()
    categories = CategoryStatsSerializer(many=True)
