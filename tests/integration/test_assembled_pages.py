"""
List page misses assembled at the WSGI level from their recipe
(caching.http.recipes): the same bytes and headers as the Django path's miss,
three round trips and no query, Django's path whenever anything the recipe
was made with changed, and no fill of what a concurrent write made old
(docs/consistency.md I1, forced).
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from caching import store
from caching.http import recipes
from catalog.models import Product
from tests.factories import ProductFactory
from tests.hooks import queued_at

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/products/?ordering=price"


def rename(product, name: str) -> None:
    """A write-through write, as an API PATCH makes: the details refilled."""
    Product.objects.update_through(Product.objects.get_cached(pk=product.pk), name=name)


def names(response) -> list[str]:
    return [p["name"] for p in response.json()["results"]]


def test_an_assembled_miss_is_the_django_paths_miss(http, handled, catalog, redis):
    http.get(LIST)  # Django's miss: the recipe made
    rename(catalog[2], "New")
    handled.clear()
    fast = http.get(LIST)
    assert handled == []  # Django's handler was not entered
    assert fast.headers["X-Cache"] == "MISS"
    assert "New" in names(fast)

    (key,) = recipes.kept.keys()
    redis.delete(key)
    recipes.kept.forget()
    slow = http.get(LIST)
    assert handled == ["/api/products/"]
    assert slow.headers["X-Cache"] == "MISS"
    assert fast.content == slow.content
    assert list(fast.headers.items()) == list(slow.headers.items())
    assert http.get(LIST).headers["X-Cache"] == "HIT"


def test_an_assembled_miss_is_three_round_trips_and_no_query(
    http, catalog, round_trips, django_assert_num_queries
):
    """The page's read, one read of its length, ids and twenty bodies, its fill."""
    before = http.get(LIST)
    rename(catalog[5], "Renamed")
    round_trips["n"] = 0
    with django_assert_num_queries(0):
        after = http.get(LIST, headers={"If-None-Match": before.headers["ETag"]})
    assert round_trips["n"] == 3
    assert after.status_code == 200  # never a 304 for changed content
    assert after.headers["ETag"] != before.headers["ETag"]
    assert "Renamed" in names(after)
    again = http.get(LIST, headers={"If-None-Match": after.headers["ETag"]})
    assert (again.status_code, again.headers["X-Cache"]) == (304, "HIT")


def test_a_page_reread_and_found_stale_costs_one_round_trip_more(
    http, catalog, round_trips
):
    """Read as a hit, the page is reread (caching.store.rereads); after a write
    the reread refuses it and the read script takes the lease: four round
    trips, the price docs/caching.md ("Cost") gives."""
    http.get(LIST)
    assert http.get(LIST).headers["X-Cache"] == "HIT"
    rename(catalog[5], "Renamed")
    round_trips["n"] = 0
    after = http.get(LIST)
    assert after.headers["X-Cache"] == "MISS"
    assert "Renamed" in names(after)
    assert round_trips["n"] == 4


def test_changed_ids_leave_the_page_to_django(http, handled, catalog, category):
    http.get(LIST)
    ProductFactory(category=category, price=Decimal("1.00"), name="Cheapest")
    handled.clear()
    page = http.get(LIST).json()
    assert handled == ["/api/products/"]
    assert page["count"] == 21
    assert page["results"][0]["name"] == "Cheapest"


def test_a_missing_item_leaves_the_page_to_django(http, handled, catalog, redis):
    http.get(LIST)
    rename(catalog[0], "First")
    recipe = recipes.kept.get(recipes.kept.keys()[0])
    redis.delete(recipe.item_keys[7])  # evicted, say
    handled.clear()
    assert "First" in names(http.get(LIST))
    assert handled == ["/api/products/"]


def test_a_page_another_process_fills_is_left_to_django(http, handled, catalog):
    """Only the lease holder assembles; a follower waits as on Django's path."""
    http.get(LIST)
    rename(catalog[0], "First")
    (key,) = recipes.kept.keys()
    assert store.read(key).leader  # another process took the lease
    handled.clear()
    assert "First" in names(http.get(LIST))
    assert handled == ["/api/products/"]


@pytest.fixture
def pause_before_fill():
    with queued_at(store.before_fill) as queue:
        yield queue


def test_a_page_assembled_before_a_write_is_not_filled(
    http, handled, catalog, pause_before_fill
):
    """I1: the length, ids and bodies were read; a product was renamed before
    the page's fill. The fill is refused, and the next request sees the name."""
    http.get(LIST)
    rename(catalog[0], "First")
    pause_before_fill(lambda: Product.objects.filter(pk=catalog[1].pk).update(name="Z"))
    handled.clear()
    assert "Z" not in names(http.get(LIST))  # the answer as of its read
    assert handled == []
    after = http.get(LIST)
    assert after.headers["X-Cache"] == "MISS"
    assert "Z" in names(after)


def test_a_recipe_lives_for_the_endpoints_ttl_at_most(http, catalog):
    http.get(LIST)
    (key,) = recipes.kept.keys()
    recipe = recipes.kept.get(key)
    assert recipe is not None
    recipes.kept.put(key, recipe, ttl=0)  # its TTL past
    time.sleep(0.01)
    assert recipes.kept.get(key) is None
