"""The pytest plugin adopters get with the package (caching.testing): it records
what the cache does and checks a block of code against it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from caching import store
from tests.caching.testapp.models import Book, Label, Shelf
from tests.hooks import queued_at

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_second_api_read_is_one_hit_and_no_sql(api_client, cache_events, book):
    url = f"/testapp/books/{book.pk}/"
    with cache_events.expect(misses=1, fills=1):
        assert api_client.get(url)["X-Cache"] == "MISS"
    with cache_events.expect(queries=0, hits=1, misses=0, fills=0):
        assert api_client.get(url)["X-Cache"] == "HIT"


def test_an_orm_read_is_recorded_with_its_group(cache_events, book):
    Book.objects.get_cached(pk=book.pk)
    Book.objects.get_cached(pk=book.pk)
    assert [(r.group, r.hit) for r in cache_events.reads] == [
        ("orm:testapp.book", False),
        ("orm:testapp.book", True),
    ]


def test_writes_are_recorded_with_their_model_and_row(cache_events, book, label):
    cache_events.clear()  # the fixtures' own inserts
    Book.objects.filter(pk=book.pk).update(price=Decimal("1.00"))
    assert cache_events.invalidated(Book, book.pk)
    assert cache_events.invalidated("testapp.book", book.pk)
    assert not cache_events.invalidated(Book, book.pk + 1)
    assert not cache_events.invalidated(Shelf)

    cache_events.clear()
    book.labels.remove(label)  # the through table's rows, and the whole of it
    assert cache_events.invalidated(Book.labels.through)
    assert not cache_events.invalidated(Label, label.pk)


def test_a_fill_a_write_overlapped_is_recorded_as_a_conflict(cache_events, book):
    with queued_at(store.before_fill) as pause_before_fill:
        pause_before_fill(lambda: Book.objects.filter(pk=book.pk).update(name="New"))
        assert Book.objects.get_cached(pk=book.pk).name == "Dune"
    assert len(cache_events.conflicts) == 1
    assert Book.objects.get_cached(pk=book.pk).name == "New"


def test_expect_names_what_differs_and_the_sql_that_ran(cache_events, book):
    with (
        pytest.raises(AssertionError, match=r"queries: expected 0, got 1") as failed,
        cache_events.expect(queries=0),
    ):
        Book.objects.uncached().get(pk=book.pk)
    assert "testapp_book" in str(failed.value)
