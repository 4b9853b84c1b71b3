"""Shelves, labels and books: the shape of a catalog, cached as an adopter would."""

from django.db import models

from caching import CachedManager, CachedQuerySet, WriteThroughManager


class Shelf(models.Model):
    name = models.CharField(max_length=50, unique=True)
    slug = models.SlugField(max_length=50, unique=True)

    objects = WriteThroughManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Label(models.Model):
    name = models.CharField(max_length=30, unique=True)
    slug = models.SlugField(max_length=30, unique=True)

    objects = CachedManager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BookQuerySet(CachedQuerySet):
    def active(self) -> "BookQuerySet":
        return self.filter(is_active=True)


class Book(models.Model):
    sku = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, blank=True)
    price = models.DecimalField(max_digits=8, decimal_places=2)
    stock = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    shelf = models.ForeignKey(Shelf, on_delete=models.PROTECT, related_name="books")
    labels = models.ManyToManyField(Label, blank=True, related_name="books")

    # A cached book embeds its shelf and labels: their writes invalidate it.
    objects = WriteThroughManager.from_queryset(BookQuerySet)(
        depends_on=("shelf", "labels")
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name
