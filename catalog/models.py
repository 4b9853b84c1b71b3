"""Catalog: categories, tags and the products that belong to them."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from caching import CachedManager
from catalog.managers import CategoryManager, ProductManager


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    objects = CategoryManager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)
    slug = models.SlugField(max_length=50, unique=True)

    objects = CachedManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    sku = models.CharField("SKU", max_length=32, unique=True)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    description = models.TextField(blank=True)
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(0)]
    )
    stock = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="products")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Cached copies of a product embed its category and tags.
    objects = ProductManager(depends_on=("category", "tags"))

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["is_active", "price"]),
            models.Index(fields=["is_active", "name"]),
            models.Index(fields=["is_active", "created_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="product_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"

    def is_visible_to(self, user) -> bool:
        """Staff see every product; everyone else only active ones (the rule of
        ProductQuerySet.visible_to, for one object)."""
        return self.is_active or user.is_staff
