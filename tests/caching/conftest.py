"""Fixtures of the caching layer's own tests: the test app's rows."""

import pytest

from tests.caching.testapp.factories import BookFactory, LabelFactory, ShelfFactory


@pytest.fixture
def shelf(db):
    return ShelfFactory(name="Books", slug="books")


@pytest.fixture
def label(db):
    return LabelFactory(name="Sale", slug="sale")


@pytest.fixture
def book(db, shelf, label):
    return BookFactory(
        sku="BOOK-1", name="Dune", price="12.50", stock=3, shelf=shelf, labels=[label]
    )
