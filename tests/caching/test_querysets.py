"""
Cache-aside through the ORM: cached() and get_cached() hit without queries, and
every way Django writes (signalled or not) makes the affected entries stale.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from caching import invalidate
from caching.orm import invalidation
from caching.store import CacheStatus, keys
from tests.caching.testapp.factories import BookFactory, LabelFactory, ShelfFactory
from tests.caching.testapp.models import Book, Label, Shelf
from tests.outside import outside_django

pytestmark = pytest.mark.django_db(transaction=True)


def cached_names(**filters) -> list[str]:
    return [p.name for p in Book.objects.cached().filter(**filters).order_by("id")]


def cached_prices() -> list[Decimal]:
    return [p.price for p in Book.objects.cached().order_by("id")]


def test_a_second_read_runs_no_query(cache_events, book):
    first = Book.objects.cached().filter(shelf__slug="books")
    assert [p.pk for p in first] == [book.pk]
    assert first.cache_status == CacheStatus.MISS
    with cache_events.expect(queries=0, hits=1, misses=0):
        again = Book.objects.cached().filter(shelf__slug="books")
        assert [p.name for p in again] == ["Dune"]
        assert again.cache_status == CacheStatus.HIT


def test_prefetched_relations_come_from_the_cache_too(django_assert_num_queries, book):
    list(Book.objects.cached().prefetch_related("labels").select_related("shelf"))
    with django_assert_num_queries(0):
        (cached,) = (
            Book.objects.cached().prefetch_related("labels").select_related("shelf")
        )
        assert cached.shelf.slug == "books"
        assert [t.slug for t in cached.labels.all()] == ["sale"]


def test_get_cached_hits_without_queries(cache_events, book):
    assert Book.objects.get_cached(pk=book.pk).name == "Dune"
    with cache_events.expect(queries=0, hits=1):
        assert Book.objects.get_cached(pk=book.pk).name == "Dune"
    with pytest.raises(Book.DoesNotExist):
        Book.objects.get_cached(pk=987654)


def test_save_refreshes_detail_and_lists(book):
    assert cached_names() == ["Dune"]
    assert Book.objects.get_cached(pk=book.pk).name == "Dune"
    book.name = "Dune Messiah"
    book.save()
    assert cached_names() == ["Dune Messiah"]
    assert Book.objects.get_cached(pk=book.pk).name == "Dune Messiah"


def test_insert_refreshes_a_filtered_list_it_now_matches(book, shelf):
    assert cached_names(shelf=shelf) == ["Dune"]
    BookFactory(name="Emma", shelf=shelf)
    assert cached_names(shelf=shelf) == ["Dune", "Emma"]


def test_delete_refreshes_detail_and_lists(book):
    assert cached_names() == ["Dune"]
    Book.objects.get_cached(pk=book.pk)
    pk = book.pk
    book.delete()
    assert cached_names() == []
    with pytest.raises(Book.DoesNotExist):
        Book.objects.get_cached(pk=pk)


def test_queryset_update_sends_no_signal_but_invalidates(book):
    assert cached_prices() == [Decimal("12.50")]
    Book.objects.get_cached(pk=book.pk)
    Book.objects.filter(pk=book.pk).update(price=Decimal("99.00"))
    assert cached_prices() == [Decimal("99.00")]
    assert Book.objects.get_cached(pk=book.pk).price == Decimal("99.00")


def test_queryset_delete_invalidates(book):
    assert cached_names() == ["Dune"]
    Book.objects.filter(pk=book.pk).delete()
    assert cached_names() == []


def test_bulk_create_invalidates_lists(book, shelf):
    assert cached_names() == ["Dune"]
    Book.objects.bulk_create(
        [Book(sku="B-2", name="Emma", slug="emma", price=1, shelf=shelf)]
    )
    assert cached_names() == ["Dune", "Emma"]


def test_bulk_update_invalidates_details_and_lists(book):
    assert cached_prices() == [Decimal("12.50")]
    Book.objects.get_cached(pk=book.pk)
    book.price = Decimal("1.00")
    Book.objects.bulk_update([book], ["price"])
    assert cached_prices() == [Decimal("1.00")]
    assert Book.objects.get_cached(pk=book.pk).price == Decimal("1.00")


def test_m2m_changes_from_either_side_invalidate(book, label):
    def tags_of_cached():
        (cached,) = Book.objects.cached().prefetch_related("labels")
        return [t.slug for t in cached.labels.all()]

    assert tags_of_cached() == ["sale"]
    new = LabelFactory(slug="new")
    book.labels.add(new)
    assert tags_of_cached() == ["new", "sale"] or tags_of_cached() == ["sale", "new"]
    new.books.remove(book)  # reverse side
    assert tags_of_cached() == ["sale"]
    book.labels.clear()
    assert tags_of_cached() == []
    label.books.add(book)  # reverse add
    assert tags_of_cached() == ["sale"]


def test_renaming_a_category_refreshes_its_products(book, shelf):
    assert Book.objects.get_cached(pk=book.pk).shelf.name == "Books"
    (listed,) = Book.objects.cached().select_related("shelf")
    assert listed.shelf.name == "Books"
    shelf.name = "Novels"
    shelf.save()
    assert Book.objects.get_cached(pk=book.pk).shelf.name == "Novels"
    (listed,) = Book.objects.cached().select_related("shelf")
    assert listed.shelf.name == "Novels"


def test_invalidate_covers_writes_made_outside_django(book):
    assert cached_names() == ["Dune"]
    Book.objects.get_cached(pk=book.pk)
    outside_django(f"UPDATE {Book._meta.db_table} SET name = %s", ["Outside"])
    assert cached_names() == ["Dune"]  # nothing in Django saw that write
    invalidate(Book)
    assert cached_names() == ["Outside"]
    assert Book.objects.get_cached(pk=book.pk).name == "Outside"


def test_invalidate_one_object(book):
    Book.objects.get_cached(pk=book.pk)
    outside_django(f"UPDATE {Book._meta.db_table} SET name = %s", ["Outside"])
    invalidate(book)
    assert Book.objects.get_cached(pk=book.pk).name == "Outside"


def test_invalidation_waits_for_commit_and_rollback_changes_nothing(book):
    assert cached_names() == ["Dune"]
    with transaction.atomic():
        Book.objects.filter(pk=book.pk).update(name="Never")
        book.refresh_from_db()
        book.save()
        transaction.set_rollback(True)
    result = Book.objects.cached().order_by("id")
    assert [p.name for p in result] == ["Dune"]
    assert result.cache_status == CacheStatus.HIT  # the entry survived: still right


def test_reads_inside_a_dirty_transaction_bypass_the_cache(book):
    assert cached_names() == ["Dune"]
    with transaction.atomic():
        Book.objects.filter(pk=book.pk).update(name="Uncommitted")
        inside = Book.objects.cached().order_by("id")
        assert [p.name for p in inside] == ["Uncommitted"]  # own write, not the entry
        assert inside.cache_status == CacheStatus.BYPASS
        transaction.set_rollback(True)
    # Nothing uncommitted was stored: the committed value is served.
    assert cached_names() == ["Dune"]


def test_invalidation_is_sent_on_commit_not_before(book, redis):
    assert cached_names() == ["Dune"]
    stamps = keys.version_key(Book)
    before = redis.hget(stamps, str(book.pk))
    with transaction.atomic():
        book.name = "Committed"
        book.save()
        # A reader elsewhere must not refill from this uncommitted write (I2).
        assert redis.hget(stamps, str(book.pk)) == before
    assert int(redis.hget(stamps, str(book.pk))) > int(before)
    assert cached_names() == ["Committed"]


def test_untracked_categories_and_tags_use_the_same_layer(shelf, label):
    assert [c.slug for c in Shelf.objects.cached()] == ["books"]
    ShelfFactory(slug="games", name="Games")
    assert sorted(c.slug for c in Shelf.objects.cached()) == ["books", "games"]
    assert Label.objects.get_cached(pk=label.pk).slug == "sale"


def test_ttl_per_call_per_model_and_default(book, redis, settings):
    settings.CACHING = {**settings.CACHING, "TTL": 300}
    Book.objects.get_cached(pk=book.pk)
    assert 270 <= redis.ttl(keys.object_key(Book, book.pk)) <= 330
    list(Book.objects.cached(ttl=40).filter(pk=book.pk))
    ttls = [redis.ttl(k) for k in redis.scan_iter(match=f"{keys.pattern(Book)}")]
    assert any(30 <= t <= 44 for t in ttls)
    manager = Book.objects
    manager.ttl = 1000
    try:
        list(Book.objects.cached().filter(name="Dune"))
        ttls = [redis.ttl(k) for k in redis.scan_iter(match=f"{keys.pattern(Book)}")]
        assert any(900 <= t <= 1100 for t in ttls)
    finally:
        manager.ttl = None


def test_a_dirty_transaction_in_another_thread_leaves_this_threads_reads_cached(book):
    """Dirtiness belongs to a connection: another thread's open, writing
    transaction sends only its own reads to the database, and once it ends no
    read pays for the check."""
    assert cached_names() == ["Dune"]
    wrote, done = threading.Event(), threading.Event()

    def writer():
        with transaction.atomic():
            Book.objects.filter(pk=book.pk).update(name="Uncommitted")
            inside = Book.objects.cached().order_by("id")
            assert [b.name for b in inside] == ["Uncommitted"]
            assert inside.cache_status == CacheStatus.BYPASS
            wrote.set()
            done.wait(10)
            transaction.set_rollback(True)
        connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert wrote.wait(10)
    here = Book.objects.cached().order_by("id")
    assert [b.name for b in here] == ["Dune"]
    assert here.cache_status == CacheStatus.HIT
    done.set()
    thread.join()
    assert not invalidation.is_dirty()
    assert not invalidation._dirty  # the ended transaction's mark is gone
