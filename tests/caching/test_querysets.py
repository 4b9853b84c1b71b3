"""
Cache-aside through the ORM: cached() and get_cached() hit without queries, and
every way Django writes (signalled or not) makes the affected entries stale.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from django.db import connection, transaction

from caching import invalidate
from caching.store import CacheStatus, keys
from catalog.models import Category, Product, Tag
from tests.factories import CategoryFactory, ProductFactory, TagFactory
from users.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)


def cached_names(**filters) -> list[str]:
    return [p.name for p in Product.objects.cached().filter(**filters).order_by("id")]


def cached_prices() -> list[Decimal]:
    return [p.price for p in Product.objects.cached().order_by("id")]


def test_a_second_read_runs_no_query(django_assert_num_queries, product):
    first = Product.objects.cached().filter(category__slug="books")
    assert [p.pk for p in first] == [product.pk]
    assert first.cache_status == CacheStatus.MISS
    with django_assert_num_queries(0):
        again = Product.objects.cached().filter(category__slug="books")
        assert [p.name for p in again] == ["Dune"]
        assert again.cache_status == CacheStatus.HIT


def test_prefetched_relations_come_from_the_cache_too(
    django_assert_num_queries, product
):
    list(Product.objects.cached().prefetch_related("tags").select_related("category"))
    with django_assert_num_queries(0):
        (cached,) = (
            Product.objects.cached().prefetch_related("tags").select_related("category")
        )
        assert cached.category.slug == "books"
        assert [t.slug for t in cached.tags.all()] == ["sale"]


def test_get_cached_hits_without_queries(django_assert_num_queries, product):
    assert Product.objects.get_cached(pk=product.pk).name == "Dune"
    with django_assert_num_queries(0):
        assert Product.objects.get_cached(pk=product.pk).name == "Dune"
    with pytest.raises(Product.DoesNotExist):
        Product.objects.get_cached(pk=987654)


def test_save_refreshes_detail_and_lists(product):
    assert cached_names() == ["Dune"]
    assert Product.objects.get_cached(pk=product.pk).name == "Dune"
    product.name = "Dune Messiah"
    product.save()
    assert cached_names() == ["Dune Messiah"]
    assert Product.objects.get_cached(pk=product.pk).name == "Dune Messiah"


def test_insert_refreshes_a_filtered_list_it_now_matches(product, category):
    assert cached_names(category=category) == ["Dune"]
    ProductFactory(name="Emma", category=category)
    assert cached_names(category=category) == ["Dune", "Emma"]


def test_delete_refreshes_detail_and_lists(product):
    assert cached_names() == ["Dune"]
    Product.objects.get_cached(pk=product.pk)
    pk = product.pk
    product.delete()
    assert cached_names() == []
    with pytest.raises(Product.DoesNotExist):
        Product.objects.get_cached(pk=pk)


def test_queryset_update_sends_no_signal_but_invalidates(product):
    assert cached_prices() == [Decimal("12.50")]
    Product.objects.get_cached(pk=product.pk)
    Product.objects.filter(pk=product.pk).update(price=Decimal("99.00"))
    assert cached_prices() == [Decimal("99.00")]
    assert Product.objects.get_cached(pk=product.pk).price == Decimal("99.00")


def test_queryset_delete_invalidates(product):
    assert cached_names() == ["Dune"]
    Product.objects.filter(pk=product.pk).delete()
    assert cached_names() == []


def test_bulk_create_invalidates_lists(product, category):
    assert cached_names() == ["Dune"]
    Product.objects.bulk_create(
        [Product(sku="B-2", name="Emma", slug="emma", price=1, category=category)]
    )
    assert cached_names() == ["Dune", "Emma"]


def test_bulk_update_invalidates_details_and_lists(product):
    assert cached_prices() == [Decimal("12.50")]
    Product.objects.get_cached(pk=product.pk)
    product.price = Decimal("1.00")
    Product.objects.bulk_update([product], ["price"])
    assert cached_prices() == [Decimal("1.00")]
    assert Product.objects.get_cached(pk=product.pk).price == Decimal("1.00")


def test_m2m_changes_from_either_side_invalidate(product, tag):
    def tags_of_cached():
        (cached,) = Product.objects.cached().prefetch_related("tags")
        return [t.slug for t in cached.tags.all()]

    assert tags_of_cached() == ["sale"]
    new = TagFactory(slug="new")
    product.tags.add(new)
    assert tags_of_cached() == ["new", "sale"] or tags_of_cached() == ["sale", "new"]
    new.products.remove(product)  # reverse side
    assert tags_of_cached() == ["sale"]
    product.tags.clear()
    assert tags_of_cached() == []
    tag.products.add(product)  # reverse add
    assert tags_of_cached() == ["sale"]


def test_renaming_a_category_refreshes_its_products(product, category):
    assert Product.objects.get_cached(pk=product.pk).category.name == "Books"
    (listed,) = Product.objects.cached().select_related("category")
    assert listed.category.name == "Books"
    category.name = "Novels"
    category.save()
    assert Product.objects.get_cached(pk=product.pk).category.name == "Novels"
    (listed,) = Product.objects.cached().select_related("category")
    assert listed.category.name == "Novels"


def test_changing_a_user_refreshes_their_profile(user):
    profile = Profile.objects.get(user=user)
    assert Profile.objects.get_cached(pk=profile.pk).user.email == "alice@example.com"
    user.email = "alice@new.example"
    user.save()
    assert Profile.objects.get_cached(pk=profile.pk).user.email == "alice@new.example"


def outside_django(sql: str, params: list) -> None:
    """Run SQL on the database connection's DB-API cursor, as psql or another
    service would: no Django cursor wrapper sees it."""
    connection.ensure_connection()
    sqlite = connection.vendor == "sqlite"
    with contextlib.closing(connection.connection.cursor()) as cursor:
        cursor.execute(sql.replace("%s", "?") if sqlite else sql, params)
    if sqlite:  # psycopg runs Django's connection in autocommit
        connection.connection.commit()


def test_invalidate_covers_writes_made_outside_django(product):
    assert cached_names() == ["Dune"]
    Product.objects.get_cached(pk=product.pk)
    outside_django(f"UPDATE {Product._meta.db_table} SET name = %s", ["Outside"])
    assert cached_names() == ["Dune"]  # nothing in Django saw that write
    invalidate(Product)
    assert cached_names() == ["Outside"]
    assert Product.objects.get_cached(pk=product.pk).name == "Outside"


def test_invalidate_one_object(product):
    Product.objects.get_cached(pk=product.pk)
    outside_django(f"UPDATE {Product._meta.db_table} SET name = %s", ["Outside"])
    invalidate(product)
    assert Product.objects.get_cached(pk=product.pk).name == "Outside"


def test_invalidation_waits_for_commit_and_rollback_changes_nothing(product):
    assert cached_names() == ["Dune"]
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(name="Never")
        product.refresh_from_db()
        product.save()
        transaction.set_rollback(True)
    result = Product.objects.cached().order_by("id")
    assert [p.name for p in result] == ["Dune"]
    assert result.cache_status == CacheStatus.HIT  # the entry survived: still right


def test_reads_inside_a_dirty_transaction_bypass_the_cache(product):
    assert cached_names() == ["Dune"]
    with transaction.atomic():
        Product.objects.filter(pk=product.pk).update(name="Uncommitted")
        inside = Product.objects.cached().order_by("id")
        assert [p.name for p in inside] == ["Uncommitted"]  # own write, not the entry
        assert inside.cache_status == CacheStatus.BYPASS
        transaction.set_rollback(True)
    # Nothing uncommitted was stored: the committed value is served.
    assert cached_names() == ["Dune"]


def test_invalidation_is_sent_on_commit_not_before(product, redis):
    assert cached_names() == ["Dune"]
    stamps = keys.version_key(Product)
    before = redis.hget(stamps, str(product.pk))
    with transaction.atomic():
        product.name = "Committed"
        product.save()
        # A reader elsewhere must not refill from this uncommitted write (I2).
        assert redis.hget(stamps, str(product.pk)) == before
    assert int(redis.hget(stamps, str(product.pk))) > int(before)
    assert cached_names() == ["Committed"]


def test_untracked_categories_and_tags_use_the_same_layer(category, tag):
    assert [c.slug for c in Category.objects.cached()] == ["books"]
    CategoryFactory(slug="games", name="Games")
    assert sorted(c.slug for c in Category.objects.cached()) == ["books", "games"]
    assert Tag.objects.get_cached(pk=tag.pk).slug == "sale"


def test_ttl_per_call_per_model_and_default(product, redis, settings):
    settings.CACHING = {**settings.CACHING, "TTL": 300}
    Product.objects.get_cached(pk=product.pk)
    assert 270 <= redis.ttl(keys.object_key(Product, product.pk)) <= 330
    list(Product.objects.cached(ttl=40).filter(pk=product.pk))
    ttls = [redis.ttl(k) for k in redis.scan_iter(match=f"{keys.pattern(Product)}")]
    assert any(30 <= t <= 44 for t in ttls)
    manager = Product.objects
    manager.ttl = 1000
    try:
        list(Product.objects.cached().filter(name="Dune"))
        ttls = [redis.ttl(k) for k in redis.scan_iter(match=f"{keys.pattern(Product)}")]
        assert any(900 <= t <= 1100 for t in ttls)
    finally:
        manager.ttl = None
