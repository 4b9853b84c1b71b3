"""Catalog admin: what a shop owner looks for, one click away."""

from django.contrib import admin
from django.db.models import Count

from caching import CachedModelAdmin
from catalog.models import Category, Product, Tag
from project.admin import StrictInputAdmin


@admin.register(Category)
class CategoryAdmin(StrictInputAdmin, CachedModelAdmin):
    list_display = ["name", "slug", "product_count"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(description="products", ordering="product_count")
    def product_count(self, obj) -> int:
        return obj.product_count


@admin.register(Tag)
class TagAdmin(CategoryAdmin):
    pass


@admin.register(Product)
class ProductAdmin(StrictInputAdmin, CachedModelAdmin):
    list_display = [
        "sku",
        "name",
        "category",
        "price",
        "stock",
        "is_active",
        "updated_at",
    ]
    list_display_links = ["sku", "name"]
    list_editable = ["price", "stock", "is_active"]
    list_filter = ["is_active", "category", "tags", "created_at"]
    list_select_related = ["category"]
    search_fields = ["sku", "name", "description"]
    autocomplete_fields = ["category"]
    filter_horizontal = ["tags"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"
    list_per_page = 50
    fieldsets = [
        (None, {"fields": ["sku", "name", "slug", "category", "tags", "description"]}),
        ("Sales", {"fields": ["price", "stock", "is_active"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]
