"""
Write-through (CONTRACT 4.4): after a committed write the cache holds the new
value, so the next read is a HIT; failed or rolled-back writes leave the cache
as it was; a cache write that fails after commit leaves nothing stale.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext

from caching import signals
from caching.orm import writethrough
from caching.store import client as cache_client
from catalog.models import Product
from tests.hooks import queued_at

pytestmark = pytest.mark.django_db(transaction=True)


def test_api_patch_then_get_is_a_hit_with_new_data(
    api_client, staff_client, django_assert_num_queries, product
):
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    response = staff_client.patch(
        url, {"price": "15.00", "name": "Dune (2021)"}, format="json"
    )
    assert response.status_code == 200
    with django_assert_num_queries(0):
        fresh = api_client.get(url)
    assert fresh["X-Cache"] == "HIT"
    assert fresh.json()["price"] == "15.00"
    assert fresh.json()["name"] == "Dune (2021)"
    staff_view = staff_client.get(url)
    assert staff_view["X-Cache"] == "HIT"
    assert staff_view.json()["price"] == "15.00"
    # The PATCH answered with the row the refill stored: what every GET serves.
    assert response.json() == staff_view.json()


def test_patch_of_tags_answers_with_the_new_tags(staff_client, product):
    from tests.factories import TagFactory

    TagFactory(slug="classic")
    url = f"/api/products/{product.pk}/"
    response = staff_client.patch(url, {"tags": ["classic"]}, format="json")
    assert response.status_code == 200
    assert response.json()["tags"] == ["classic"]
    assert staff_client.get(url).json()["tags"] == ["classic"]


def test_api_put_and_post_then_get_are_hits(
    api_client, staff_client, product, category
):
    url = f"/api/products/{product.pk}/"
    body = {"sku": "BOOK-1", "name": "Dune", "price": "13.00", "category": "books"}
    assert staff_client.put(url, body, format="json").status_code == 200
    assert api_client.get(url)["X-Cache"] == "HIT"
    created = staff_client.post(
        "/api/products/",
        {"sku": "NEW-1", "name": "Emma", "price": "3.00", "category": "books"},
        format="json",
    )
    assert created.status_code == 201
    new = api_client.get(f"/api/products/{created.json()['id']}/")
    assert new["X-Cache"] == "HIT"
    assert new.json()["name"] == "Emma"


def test_write_through_body_is_what_the_view_renders(
    api_client, staff_client, product, settings
):
    url = f"/api/products/{product.pk}/"
    staff_client.patch(url, {"stock": 42}, format="json")
    cached = api_client.get(url)
    assert cached["X-Cache"] == "HIT"
    settings.CACHING = {**settings.CACHING, "ENABLED": False}
    rendered = api_client.get(url)
    assert rendered["X-Cache"] == "BYPASS"
    assert cached.content == rendered.content
    assert cached["Content-Type"] == rendered["Content-Type"]


def test_profile_patch_then_reads_are_hits_for_each_viewer(
    api_client, user_client, other_client, user
):
    response = user_client.patch(
        "/api/profiles/me/", {"bio": "Reads a lot"}, format="json"
    )
    assert response.status_code == 200
    me = user_client.get("/api/profiles/me/")
    assert me["X-Cache"] == "HIT"
    assert me.json()["bio"] == "Reads a lot"
    owner = user_client.get("/api/profiles/alice/")
    assert owner["X-Cache"] == "HIT"
    assert owner.json()["email"] == "alice@example.com"
    public = api_client.get("/api/profiles/alice/")
    assert public["X-Cache"] == "HIT"
    assert "email" not in public.json()
    assert "email" not in other_client.get("/api/profiles/alice/").json()


def test_manager_write_through_leaves_a_hit(cache_events, category):
    product = Product.objects.create_through(
        sku="WT-1", name="Lamp", slug="lamp", price=Decimal("5.00"), category=category
    )
    with cache_events.expect(queries=0, hits=1):
        assert Product.objects.get_cached(pk=product.pk).name == "Lamp"
    Product.objects.update_through(product, name="Desk lamp")
    with cache_events.expect(queries=0, hits=1):
        assert Product.objects.get_cached(pk=product.pk).name == "Desk lamp"


def test_rolled_back_write_leaves_the_cache_untouched(
    django_assert_num_queries, product
):
    assert Product.objects.get_cached(pk=product.pk).price == Decimal("12.50")
    with transaction.atomic():
        Product.objects.update_through(product, price=Decimal("99.00"))
        transaction.set_rollback(True)
    with django_assert_num_queries(0):
        assert Product.objects.get_cached(pk=product.pk).price == Decimal("12.50")


def test_failed_database_write_leaves_the_cache_untouched(
    django_assert_num_queries, product, category
):
    other = Product.objects.create_through(
        sku="OTHER", name="Other", slug="o", price=1, category=category
    )
    assert Product.objects.get_cached(pk=other.pk).sku == "OTHER"
    other.sku = product.sku  # unique: the database refuses it
    with pytest.raises(IntegrityError):
        Product.objects.save_through(other)
    with django_assert_num_queries(0):
        assert Product.objects.get_cached(pk=other.pk).sku == "OTHER"


def test_failed_cache_write_after_commit_leaves_nothing_stale(product):
    assert Product.objects.get_cached(pk=product.pk).price == Decimal("12.50")

    def redis_goes_away(sender, wire, **kwargs):
        cache_client.breaker.failure(ConnectionError("cut after the invalidation"))

    signals.cache_invalidated.connect(redis_goes_away, dispatch_uid="test-cut")
    try:
        Product.objects.update_through(product, price=Decimal("20.00"))
    finally:
        signals.cache_invalidated.disconnect(dispatch_uid="test-cut")
    cache_client.breaker.reset()
    cached = Product.objects.cached().filter(pk=product.pk)
    assert [p.price for p in cached] == [Decimal("20.00")]
    assert Product.objects.get_cached(pk=product.pk).price == Decimal("20.00")


def test_pipelined_fills_send_no_script_check_and_survive_a_script_flush(redis):
    """A refill's fills are one pipeline: no SCRIPT EXISTS round trip before it,
    and a server that lost its scripts gets them loaded and the fills run again."""
    from caching import store
    from caching.store import Fill, keys

    entries = [
        (keys.response_key(f"/p{i}/", "", ""), Fill(b"v", [("x.y", "1")]))
        for i in range(3)
    ]
    redis.script_flush()
    assert store.fill_many(entries, store.now_all()) == 3
    redis.config_resetstat()
    assert store.fill_many(entries, store.now_all()) == 3
    called = [name for name in redis.info("commandstats") if "script" in name]
    assert called == []


# --- a PATCH stores the row it wrote, without reading it back (I6: compare
# versions). Each test below makes another write land at the worst moment.


def in_another_thread(work) -> None:
    """Run work on another thread, so on another connection: it commits alone."""
    failures = []

    def run():
        try:
            work()
        except BaseException as error:  # re-raised on the test's thread
            failures.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


@pytest.fixture
def before_written_fill():
    """Run a function once, after a PATCH committed, before its fill."""
    with queued_at(writethrough.before_written_fill) as queue:
        yield queue


@pytest.fixture
def before_patch_saves():
    """Run a function once, after a PATCH read its product, before it saves it."""
    actions = []

    def receiver(sender, instance, **kwargs):
        while actions:
            actions.pop(0)()

    pre_save.connect(receiver, sender=Product, dispatch_uid="test-before-save")
    yield actions.append
    pre_save.disconnect(sender=Product, dispatch_uid="test-before-save")


def test_patch_of_a_cached_product_reads_nothing_back(
    api_client, staff_client, product
):
    url = f"/api/products/{product.pk}/"
    staff_client.patch(url, {"stock": 4}, format="json")  # caches the product
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.patch(url, {"price": "15.00"}, format="json")
    assert response.status_code == 200
    assert [q["sql"] for q in queries if q["sql"].startswith("SELECT")] == []
    assert response.json()["price"] == "15.00"
    assert response.json()["tags"] == ["sale"]
    fresh = api_client.get(url)
    assert fresh["X-Cache"] == "HIT"
    assert fresh.json() == response.json()
    assert Product.objects.get_cached(pk=product.pk).price == Decimal("15.00")


def test_write_of_the_row_before_the_fill_makes_the_patch_read_it_back(
    api_client, staff_client, before_written_fill, product
):
    url = f"/api/products/{product.pk}/"
    staff_client.patch(url, {"stock": 4}, format="json")
    before_written_fill(
        lambda: Product.objects.filter(pk=product.pk).update(description="Spice")
    )
    response = staff_client.patch(url, {"price": "15.00"}, format="json")
    assert response.json()["description"] == "Spice"
    fresh = api_client.get(url)
    assert (fresh.json()["price"], fresh.json()["description"]) == ("15.00", "Spice")
    assert Product.objects.get_cached(pk=product.pk).description == "Spice"


def test_write_stamped_before_the_patchs_own_invalidation_is_not_hidden_by_it(
    api_client, staff_client, before_patch_saves, product
):
    """Another write commits and stamps the row between the PATCH's read and its
    save; the PATCH's invalidation then overwrites that stamp with its own. The
    cached copy the PATCH read lacks that write: it must not be stored."""
    url = f"/api/products/{product.pk}/"
    staff_client.patch(url, {"stock": 4}, format="json")

    def concurrent_save():
        other = Product.objects.get(pk=product.pk)
        other.description = "Spice"
        other.save(update_fields=["description"])

    before_patch_saves(lambda: in_another_thread(concurrent_save))
    response = staff_client.patch(url, {"price": "15.00"}, format="json")
    assert response.json()["description"] == "Spice"
    fresh = api_client.get(url)
    assert (fresh.json()["price"], fresh.json()["description"]) == ("15.00", "Spice")
    assert Product.objects.get_cached(pk=product.pk).description == "Spice"


def test_rename_of_the_category_stamped_before_the_patch_commits_is_not_lost(
    api_client, staff_client, before_patch_saves, product
):
    """The copy the PATCH read embeds the old category name; the rename's stamp
    lands below the PATCH's own one, so only the fill's check can refuse it."""
    url = f"/api/products/{product.pk}/"
    staff_client.patch(url, {"stock": 4}, format="json")
    category = product.category

    def rename():
        category.name = "Novels"
        category.save()

    before_patch_saves(lambda: in_another_thread(rename))
    response = staff_client.patch(url, {"price": "15.00"}, format="json")
    assert response.json()["category"]["name"] == "Novels"
    assert api_client.get(url).json()["category"]["name"] == "Novels"
    assert Product.objects.get_cached(pk=product.pk).category.name == "Novels"


def test_patch_writes_only_the_fields_sent(staff_client, before_patch_saves, product):
    url = f"/api/products/{product.pk}/"
    staff_client.patch(url, {"stock": 4}, format="json")
    before_patch_saves(
        lambda: in_another_thread(
            lambda: Product.objects.filter(pk=product.pk).update(name="Dune Messiah")
        )
    )
    assert staff_client.patch(url, {"price": "15.00"}, format="json").status_code == 200
    product.refresh_from_db()
    assert (product.name, product.price) == ("Dune Messiah", Decimal("15.00"))


def test_patch_of_a_product_deleted_meanwhile_is_a_404(
    staff_client, before_patch_saves, product
):
    url = f"/api/products/{product.pk}/"
    staff_client.patch(url, {"stock": 4}, format="json")
    before_patch_saves(
        lambda: in_another_thread(
            lambda: Product.objects.filter(pk=product.pk).delete()
        )
    )
    response = staff_client.patch(url, {"price": "15.00"}, format="json")
    assert response.status_code == 404
    assert "detail" in response.json()
    assert not Product.objects.filter(pk=product.pk).exists()


def test_copies_a_patch_stores_without_reading_back_match_the_database(
    staff_client, product
):
    """What the PATCH stores from its copy is what a read of the row would have
    stored: cache_verify's comparison finds nothing stale after each kind of
    field (normalised decimals, trimmed text, a new category, deactivation)."""
    from caching.ops import verify
    from tests.factories import CategoryFactory

    CategoryFactory(name="Films", slug="films")
    url = f"/api/products/{product.pk}/"
    staff_client.patch(url, {"stock": 4}, format="json")
    bodies = [
        {"price": "5"},
        {"name": "  Dune  ", "description": "Spice, ß and ∂"},
        {"category": "films"},
        {"is_active": False},
    ]
    for body in bodies:
        with CaptureQueriesContext(connection) as queries:
            assert staff_client.patch(url, body, format="json").status_code == 200
        sql = [q["sql"] for q in queries]
        assert not [q for q in sql if q.startswith('SELECT "catalog_product"')], body
        result = verify.verify([Product])
        assert result.stale == [], body
        assert result.checked >= 2, body  # the object and the staff detail


def test_browsable_api_patch_shows_the_product_in_its_form(staff_client, product):
    """A PATCH answered as HTML keeps its serializer (its form is filled from it);
    JSON answers come from the serializer class's one instance."""
    import re

    url = f"/api/products/{product.pk}/"
    response = staff_client.patch(
        url, {"name": "Dune (HTML)"}, format="json", HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 200
    forms = re.findall(r'<textarea[^>]*name="_content"[^>]*>(.*?)</textarea>',
                       response.content.decode(), re.S)  # fmt: skip
    assert forms
    assert all("Dune (HTML)" in form for form in forms)


def test_an_objects_forms_render_it_once_and_only_for_that_call(monkeypatch, product):
    """A product's staff and public details are the same bytes: write-through
    renders them once; the next write renders again (nothing kept between)."""
    from catalog.api.endpoints import product_detail
    from catalog.api.serializers import ProductSerializer

    product = Product.objects.with_embedded().get(pk=product.pk)
    calls = []
    original = ProductSerializer.to_representation
    monkeypatch.setattr(
        ProductSerializer,
        "to_representation",
        lambda self, instance: calls.append(instance) or original(self, instance),
    )
    forms = product_detail.forms(product)
    assert (len(forms), len(calls)) == (2, 1)
    assert forms[0][1].payload == forms[1][1].payload
    product.name = "Dune Messiah"
    assert all(b"Dune Messiah" in f.payload for _, f in product_detail.forms(product))
    assert len(calls) == 2
