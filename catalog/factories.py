"""factory-boy factories of the catalog (used by seed_catalog and the tests)."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.utils.text import slugify

from catalog.models import Category, Product, Tag


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"tag-{n}")
    slug = factory.LazyAttribute(lambda o: slugify(o.name))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        skip_postgeneration_save = True

    sku = factory.Sequence(lambda n: f"SKU-{n:08d}")
    name = factory.Faker("catch_phrase")
    slug = factory.LazyAttribute(lambda o: slugify(o.name)[:200] or "product")
    description = factory.Faker("paragraph", nb_sentences=3)
    price = factory.Faker(
        "pydecimal", left_digits=4, right_digits=2, min_value=Decimal("0.50")
    )
    stock = factory.Faker("random_int", min=0, max=500)
    is_active = True
    category = factory.SubFactory(CategoryFactory)

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            self.tags.set(extracted)
