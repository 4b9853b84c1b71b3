"""
Lists from two tiers (issue 14): on a response miss, the product list reads
the list's length and the page's ids from cached queries and the products'
bodies from their detail entries (caching.http.fragments); the profile list
reads profiles from their object entries (get_many_cached). A write to one
product costs the next list miss that product, not the page; and no new fill
can store what a concurrent write made old (docs/consistency.md I1, forced
here for each).
"""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import pytest

from caching import store
from caching.http.endpoint import PkOnly
from caching.orm import pages
from caching.store import keys
from catalog.models import Product
from tests.factories import CategoryFactory, ProductFactory
from tests.hooks import queued_at

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/products/?ordering=price"


@pytest.fixture
def pause_before_fill():
    with queued_at(store.before_fill) as queue:
        yield queue


def names(response) -> list[str]:
    return [p["name"] for p in response.json()["results"]]


def detail(product) -> str:
    return f"/api/products/{product.pk}/"


def test_a_cold_list_fills_its_ids_and_every_detail(api_client, cache_events, catalog):
    # the response, the count, the page's ids, twenty details
    with cache_events.expect(misses=23, fills=23):
        assert api_client.get(LIST)["X-Cache"] == "MISS"
    for product in catalog:
        with cache_events.expect(queries=0, hits=1):
            assert api_client.get(detail(product))["X-Cache"] == "HIT"


def test_after_a_patch_a_list_miss_reads_ids_and_twenty_entries(
    api_client, staff_client, cache_events, catalog
):
    api_client.get(LIST)
    changed = catalog[3]
    staff_client.patch(detail(changed), {"name": "New"}, format="json")
    # The count and the ids (a price order reads no name), and the bodies
    # from the details PATCH refilled: no query at all.
    with cache_events.expect(queries=0, misses=1, hits=22, fills=1):
        response = api_client.get(LIST)
    assert response["X-Cache"] == "MISS"
    assert "New" in names(response)


def test_after_an_orm_update_only_the_changed_product_is_loaded(
    api_client, cache_events, catalog, django_assert_num_queries
):
    api_client.get(LIST)
    changed = catalog[7]
    Product.objects.filter(pk=changed.pk).update(name="Updated")
    cache_events.clear()
    # the count and ids are served (an UPDATE of the name changes neither a
    # price order nor the rows), then the one product with its category, its tags
    with django_assert_num_queries(2):
        response = api_client.get(LIST)
    assert "Updated" in names(response)
    assert len(cache_events.hits) == 21


def test_staff_and_public_pages_use_their_own_details(
    api_client, staff_client, catalog
):
    hidden = catalog[0]
    Product.objects.filter(pk=hidden.pk).update(is_active=False)
    assert hidden.pk not in [p["id"] for p in api_client.get(LIST).json()["results"]]
    staff_page = staff_client.get(LIST).json()["results"]
    assert hidden.pk in [p["id"] for p in staff_page]
    assert api_client.get(detail(hidden)).status_code == 404
    assert staff_client.get(detail(hidden))["X-Cache"] == "HIT"


def test_the_list_is_what_the_database_says_with_the_cache_off(
    api_client, catalog, settings
):
    api_client.get(LIST)
    Product.objects.filter(pk=catalog[0].pk).update(price=Decimal("1.00"))
    cached = api_client.get(LIST)
    settings.CACHING = {**settings.CACHING, "ENABLED": False}
    fresh = api_client.get(LIST)
    assert fresh["X-Cache"] == "BYPASS"
    assert cached.content == fresh.content


def test_an_id_list_read_before_an_insert_is_not_filled(
    api_client, pause_before_fill, catalog, category
):
    """I1 for the id query: it read 20 ids, a product was inserted before its
    fill; the fill is refused, and the next list has 21."""
    pause_before_fill(lambda: ProductFactory(category=category, price=Decimal("1")))
    assert api_client.get(LIST).json()["count"] == 20
    again = api_client.get(LIST)
    assert again["X-Cache"] == "MISS"
    assert again.json()["count"] == 21


def test_a_detail_rendered_before_a_write_is_not_filled(api_client, catalog):
    """I1 for the fragments: the page's products were loaded and rendered, one
    was renamed before their fill; its detail is refused, the others stored."""
    api_client.get(LIST)
    first = catalog[0]
    key = keys.response_key(detail(first), "public")
    Product.objects.filter(pk=first.pk).update(name="Loaded")  # its entries go
    writes = [lambda: Product.objects.filter(pk=first.pk).update(name="Later")]

    def write_before_its_fill(filling: str) -> None:
        if filling == key and writes:
            writes.pop()()

    store.before_fill.append(write_before_its_fill)
    try:
        assert "Loaded" in names(api_client.get(LIST))  # overlapped the write
    finally:
        store.before_fill.remove(write_before_its_fill)
    assert not writes
    again = api_client.get(detail(first))
    assert (again["X-Cache"], again.json()["name"]) == ("MISS", "Later")
    assert "Later" in names(api_client.get(LIST))


def test_an_object_loaded_before_a_write_is_not_filled(catalog):
    """I1 for get_many_cached (the profile list's tier), on products."""
    first = catalog[0]
    key = keys.object_key(Product, first.pk)
    writes = [lambda: Product.objects.filter(pk=first.pk).update(name="Later")]

    def write_before_its_fill(filling: str) -> None:
        if filling == key and writes:
            writes.pop()()

    store.before_fill.append(write_before_its_fill)
    try:
        loaded = Product.objects.get_many_cached([p.pk for p in catalog])
    finally:
        store.before_fill.remove(write_before_its_fill)
    assert [p.pk for p in loaded] == [p.pk for p in catalog]
    assert loaded[0].name != "Later"  # read before the write
    assert Product.objects.get_cached(pk=first.pk).name == "Later"
    assert Product.objects.get_many_cached([first.pk])[0].name == "Later"


def test_a_category_rename_makes_only_its_products_details_unservable(
    api_client, cache_events, catalog, category
):
    other = ProductFactory(price=Decimal("9.00"))  # another category
    api_client.get(detail(other))
    api_client.get(LIST)
    category.name = "Renamed"
    category.save()
    response = api_client.get(LIST)
    assert {p["category"]["name"] for p in response.json()["results"]} == {"Renamed"}
    with cache_events.expect(queries=0, hits=1):
        assert api_client.get(detail(other))["X-Cache"] == "HIT"


def test_the_profile_list_reads_profiles_from_their_detail_entries(
    api_client, user_client, user, other_user, cache_events, django_assert_num_queries
):
    """Profiles are found by username: the page's ids query selects it too,
    and after a PATCH of /me/ (which refills its details) the next page miss
    runs no query at all."""
    api_client.get("/api/profiles/")
    user_client.patch("/api/profiles/me/", {"display_name": "Al"}, format="json")
    cache_events.clear()
    with django_assert_num_queries(0):
        response = api_client.get("/api/profiles/")
    assert response["X-Cache"] == "MISS"
    details = [r for r in cache_events.hits if r.group == "api:profile-detail"]
    assert len(details) == 2  # the page's bodies: nothing serialized
    shown = {p["username"]: p for p in response.json()["results"]}
    assert shown["alice"]["display_name"] == "Al"
    assert "email" not in shown["alice"]


@pytest.mark.parametrize("viewer", ["api_client", "user_client", "staff_client"])
def test_an_assembled_profile_page_is_the_database_page(
    request, viewer, user, other_user, settings
):
    """Each viewer gets each item's detail form for them: their own email, all
    emails for staff, none for anyone else, the bytes DRF would write."""
    client = request.getfixturevalue(viewer)
    client.get("/api/profiles/")  # the details filled
    assembled = client.get("/api/profiles/?page_size=10")  # another key
    assert assembled["X-Cache"] == "MISS"
    settings.CACHING = {**settings.CACHING, "ENABLED": False}
    fresh = client.get("/api/profiles/?page_size=10")
    assert assembled.content == fresh.content
    emails = [p.get("email") for p in fresh.json()["results"]]
    expected = {
        "api_client": [None, None],
        "user_client": ["alice@example.com", None],
        "staff_client": ["alice@example.com", "bob@example.com", "staff@example.com"],
    }[viewer]
    assert sorted(emails, key=str) == sorted(expected, key=str)


def test_a_list_miss_reads_its_length_and_ids_in_one_round_trip(
    api_client, staff_client, catalog, round_trips, django_assert_num_queries
):
    """The page's plan (caching.orm.pages): the second miss of a page reads
    its length and ids in one round trip, its bodies in another; around them
    the response tier's read and fill. No query, no filterset, no SQL."""
    api_client.get(LIST)  # every entry filled, the page's plan made
    for changed in catalog[3], catalog[4]:
        staff_client.patch(detail(changed), {"name": changed.name + "!"}, format="json")
        round_trips["n"] = 0
        with django_assert_num_queries(0):
            response = api_client.get(LIST)
        assert response["X-Cache"] == "MISS"
        assert f"{changed.name}!" in names(response)
    assert round_trips["n"] == 4

    pages.plans.forget()  # without the plan: the length, then the ids
    staff_client.patch(detail(catalog[5]), {"name": "Plain"}, format="json")
    round_trips["n"] = 0
    assert "Plain" in names(api_client.get(LIST))
    assert round_trips["n"] == 5


def test_a_plan_whose_entries_changed_gives_way_to_the_query(api_client, catalog):
    """An insert voids the plan's length and ids: the page is queried again
    and a new plan made."""
    api_client.get(LIST)
    ProductFactory(category=catalog[0].category, price=Decimal("1.00"), name="First")
    response = api_client.get(LIST).json()
    assert response["count"] == 21
    assert response["results"][0]["name"] == "First"
    plan = pages.plans.get(pages.plans.keys()[0])
    assert plan.total == 21


def test_a_plan_is_used_only_with_its_length_and_for_its_lifetime(catalog):
    queryset = Product.objects.order_by("price", "pk")
    ids = pages.IdPages(queryset)
    assert ids.count() == 20  # as a paginator asks: the length, then a slice
    assert ids[0:20] == [p.pk for p in catalog]
    plan = ids.plan()
    assert pages.IdPages.from_plan(plan)[0:20] == [p.pk for p in catalog]
    other_length = dataclasses.replace(plan, total=plan.total + 1)
    assert pages.IdPages.from_plan(other_length) is None
    pages.plans.put("page", plan, ttl=0)  # a queryset may read the clock
    time.sleep(0.01)
    assert pages.plans.get("page") is None
    pages.plans.put("page", plan, ttl=60)
    assert pages.plans.get("page") == plan


def test_a_detail_path_from_its_pk_is_what_reverse_gives(db):
    from django.urls import set_script_prefix

    from catalog.api import endpoints

    endpoint = endpoints.product_detail
    try:
        for prefix in "/", "/shop/":
            set_script_prefix(prefix)
            for pk in 0, 7, 123456789:
                assert endpoint.detail_path(pk) == endpoint.path_of(PkOnly(pk))
            assert endpoint.detail_path(7) == f"{prefix}api/products/7/"
        assert endpoint.detail_path(-1) is None  # not a pk the route matches
        assert endpoint.detail_path("x") is None
    finally:
        set_script_prefix("/")


def test_a_new_category_leaves_the_length_and_ids_servable(
    api_client, catalog, django_assert_num_queries
):
    """The length and ids read no related rows (select_related is dropped), so
    they do not depend on the category table; the page, whose items embed
    their category, does."""
    api_client.get(LIST)
    CategoryFactory(name="Poetry", slug="poetry")
    with django_assert_num_queries(0):
        assert api_client.get(LIST)["X-Cache"] == "MISS"
