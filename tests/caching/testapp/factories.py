from decimal import Decimal

import factory

from tests.caching.testapp.models import Book, Label, Shelf


class ShelfFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shelf
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Shelf {n}")
    slug = factory.Sequence(lambda n: f"shelf-{n}")


class LabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Label
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Label {n}")
    slug = factory.Sequence(lambda n: f"label-{n}")


class BookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Book
        skip_postgeneration_save = True

    sku = factory.Sequence(lambda n: f"B-{n:05d}")
    name = factory.Sequence(lambda n: f"Book {n}")
    slug = factory.Sequence(lambda n: f"book-{n}")
    price = Decimal("10.00")
    shelf = factory.SubFactory(ShelfFactory)

    @factory.post_generation
    def labels(self, create, extracted, **kwargs):
        if create and extracted:
            self.labels.set(extracted)
