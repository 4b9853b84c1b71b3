"""
An object's detail missed at the WSGI level and answered there
(caching.http.details): the same bytes and headers as Django's miss, header for
header, and nothing the view would do given up: its permissions, its throttles
(counted once), its 404s, the fill's ordering against a concurrent write.

Requests go through the project's WSGI application with httpx's WSGI transport,
against the real database and Redis; ``handled`` lists the requests that reached
Django's handler.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.permissions import IsAuthenticated

from caching import store
from caching.store import keys
from catalog.api.views import ProductViewSet
from catalog.models import Product
from tests.factories import ProductFactory
from tests.hooks import queued_at
from users.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)


def token_of(user, http) -> dict[str, str]:
    """Return the Authorization header of user's token, known to the cache
    (through Django's authentication: the WSGI level looks only in the cache)."""
    key = Token.objects.get_or_create(user=user)[0].key
    headers = {"Authorization": f"Token {key}"}
    assert http.get("/api/categories/", headers=headers).status_code == 200
    return headers


def miss_both_ways(http, handled, caching_settings, redis, url, method, headers):
    """Return the WSGI level's miss and Django's miss of the same request."""
    handled.clear()
    fast = http.request(method, url, headers=headers)
    assert handled == []  # Django's handler was not entered
    redis.flushdb()
    caching_settings(WSGI_HITS=False)
    slow = http.request(method, url, headers=headers)
    caching_settings(WSGI_HITS=True)
    assert handled == [url]
    return fast, slow


@pytest.mark.parametrize(
    ("caller", "method"),
    [("anonymous", "GET"), ("staff", "GET"), ("owner", "GET"), ("anonymous", "HEAD"),
     ("owner", "HEAD")],
)  # fmt: skip
def test_a_detail_miss_is_the_django_paths_miss_header_for_header(
    http, handled, caching_settings, redis, product, user, staff_user, caller, method
):
    Profile.objects.filter(user=user).update(is_public=False)  # its owner sees it
    url, headers = {
        "anonymous": (f"/api/products/{product.pk}/", {}),
        "staff": (f"/api/products/{product.pk}/", token_of(staff_user, http)),
        "owner": (f"/api/profiles/{user.username}/", token_of(user, http)),
    }[caller]
    fast, slow = miss_both_ways(
        http, handled, caching_settings, redis, url, method, headers
    )
    assert (fast.status_code, slow.status_code) == (200, 200)
    assert fast.headers["X-Cache"] == slow.headers["X-Cache"] == "MISS"
    assert list(fast.headers.items()) == list(slow.headers.items())
    assert fast.content == slow.content
    if caller == "owner" and method == "GET":
        assert fast.json()["email"] == user.email  # the owner's variant
    handled.clear()
    hit = http.request(method, url, headers=headers)
    assert (hit.headers["X-Cache"], hit.content, handled) == ("HIT", fast.content, [])
    assert fast.headers["ETag"] == hit.headers["ETag"]


def test_a_slug_lookup_is_answered_too(
    http, handled, caching_settings, redis, category
):
    url = f"/api/categories/{category.slug}/"
    fast, slow = miss_both_ways(http, handled, caching_settings, redis, url, "GET", {})
    assert fast.status_code == 200
    assert fast.json()["slug"] == category.slug
    assert list(fast.headers.items()) == list(slow.headers.items())
    assert fast.content == slow.content


def test_a_detail_miss_is_two_queries_and_two_round_trips(
    http, handled, product, round_trips
):
    url = f"/api/products/{product.pk}/"
    round_trips["n"] = 0
    with CaptureQueriesContext(connection) as queries:
        answer = http.get(url)
    assert (answer.headers["X-Cache"], handled) == ("MISS", [])
    assert len(queries) == 2  # the product with its category, then its tags
    assert round_trips["n"] == 2  # the read (lease taken), the fill


def test_what_the_view_would_not_show_is_left_to_django(
    http, handled, user, other_user, category
):
    hidden = ProductFactory(category=category, is_active=False)
    Profile.objects.filter(user=user).update(is_public=False)
    for url, headers in [
        (f"/api/products/{hidden.pk}/", {}),  # staff only
        ("/api/products/999999999/", {}),  # none
        (f"/api/profiles/{user.username}/", {}),  # private
        (f"/api/profiles/{user.username}/", token_of(other_user, http)),
    ]:
        handled.clear()
        answer = http.get(url, headers=headers)
        assert (answer.status_code, handled) == (404, [url])
        assert answer.json()["detail"]


def test_the_views_permissions_are_checked(http, handled, product, user, monkeypatch):
    monkeypatch.setattr(ProductViewSet, "permission_classes", [IsAuthenticated])
    url = f"/api/products/{product.pk}/"
    refused = http.get(url)
    assert (refused.status_code, handled) == (401, [url])
    handled.clear()
    headers = token_of(user, http)
    handled.clear()
    allowed = http.get(url, headers=headers)
    assert (allowed.status_code, allowed.headers["X-Cache"]) == (200, "MISS")
    assert handled == []


def throttle_count(redis, caller: str) -> int:
    return int(redis.get(keys.throttle_key("anon", caller)) or 0)


def test_a_miss_answered_here_is_counted_once_by_the_throttles(
    http, handled, redis, settings, category
):
    settings.REST_FRAMEWORK = {
        **django_settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "anon": "3/minute",
        },
    }
    products = ProductFactory.create_batch(5, category=category)
    urls = [f"/api/products/{p.pk}/" for p in products]
    answers = [http.get(url) for url in urls[:3]]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert handled == []
    assert throttle_count(redis, "127.0.0.1") == 3
    refused = http.get(urls[3])  # over the limit: DRF's 429, not counted again
    assert (refused.status_code, handled) == (429, [urls[3]])
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json()["detail"]
    assert throttle_count(redis, "127.0.0.1") == 4
    assert http.get(urls[0]).status_code == 200  # a hit: not counted
    assert throttle_count(redis, "127.0.0.1") == 4


def test_a_404_left_to_django_is_counted_once(http, handled, redis, settings):
    settings.REST_FRAMEWORK = {
        **django_settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "anon": "10/minute",
        },
    }
    assert http.get("/api/products/999999999/").status_code == 404
    assert handled == ["/api/products/999999999/"]
    assert throttle_count(redis, "127.0.0.1") == 1


def test_a_write_between_the_read_and_the_fill_is_not_served(http, handled, product):
    url = f"/api/products/{product.pk}/"
    with queued_at(store.before_fill) as queue:
        queue(lambda: Product.objects.filter(pk=product.pk).update(name="Written"))
        answer = http.get(url)  # read before the write: answers what it read
    assert (answer.json()["name"], answer.headers["X-Cache"], handled) == (
        "Dune",
        "MISS",
        [],
    )
    after = http.get(url)  # its fill is older than the write's stamp: not served
    assert (after.json()["name"], after.headers["X-Cache"]) == ("Written", "MISS")


def test_the_naive_fill_reaches_this_path_too(http, handled, product, caching_settings):
    """NAIVE_FILL (the consistency checker's control run) stamps every fill
    after its read, this one included: the same write is then served stale."""
    caching_settings(NAIVE_FILL=True)
    url = f"/api/products/{product.pk}/"
    with queued_at(store.before_fill) as queue:
        queue(lambda: Product.objects.filter(pk=product.pk).update(name="Written"))
        http.get(url)
    after = http.get(url)
    assert (after.json()["name"], after.headers["X-Cache"], handled) == (
        "Dune",
        "HIT",
        [],
    )


def test_a_follower_waits_and_takes_the_leaders_fill(http, handled, product, redis):
    url = f"/api/products/{product.pk}/"
    key = keys.response_key(url, "public")
    lookup = store.read(key)  # another process holds the lease
    assert lookup.leader
    answer = http.get(url)  # waits, then leads after the lease expired
    assert (answer.status_code, handled) == (200, [url])  # by Django
    assert answer.headers["X-Cache"] == "MISS"


def test_a_middleware_below_the_hit_path_it_does_not_know_sends_misses_to_django(
    settings, new_http, handled, product
):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.Noop"]
    url = f"/api/products/{product.pk}/"
    answer = new_http().get(url)
    assert (answer.headers["X-Cache"], handled) == ("MISS", [url])


class Noop:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="a server's connection to break (SQLite's test database lives in it)",
)
def test_a_broken_database_connection_is_replaced(http, handled, product):
    url = f"/api/products/{product.pk}/"
    with connection.cursor() as cursor:  # this thread's connection, as a worker's
        cursor.execute("SELECT 1")
    connection.connection.close()  # as a restart of PostgreSQL leaves it
    answer = http.get(url)
    assert (answer.status_code, answer.json()["name"]) == (200, "Dune")
