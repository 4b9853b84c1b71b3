"""The cache commands on the real database and Redis (CONTRACT 5)."""

from __future__ import annotations

import json
from io import StringIO

import httpx
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from caching.store import client as cache_client
from caching.store import codec, keys
from catalog.models import Product
from tests.factories import ProductFactory
from tests.outside import outside_django

pytestmark = pytest.mark.django_db(transaction=True)


def command(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_cache_warm_makes_details_and_first_pages_hits(api_client, product, user):
    output = command("cache_warm")
    assert "Warmed" in output
    for url in (
        f"/api/products/{product.pk}/",
        "/api/categories/books/",
        "/api/tags/sale/",
        "/api/profiles/alice/",
        "/api/profiles/",
        "/api/categories/",
        "/api/catalog/stats/",
    ):
        assert api_client.get(url)["X-Cache"] == "HIT", url
    assert Product.objects.get_cached(pk=product.pk).name == "Dune"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_cache_warm_warms_the_address_clients_use(live_server, product, user, host):
    """Whatever Host a client sends (make run prints 127.0.0.1:PORT), the first
    list page after cache_warm is a hit: pages are keyed and linked without
    the host (their links come from PUBLIC_URL)."""
    command("cache_warm")
    port = live_server.url.rsplit(":", 1)[1]
    for path in ("/api/products/", "/api/profiles/", "/api/catalog/stats/"):
        response = httpx.get(f"http://{host}:{port}{path}")
        assert response.headers["X-Cache"] == "HIT", (host, path)


def test_cache_warm_one_model(api_client, product, user):
    assert "catalog.Product" in command("cache_warm", "--model", "catalog.Product")
    assert api_client.get(f"/api/products/{product.pk}/")["X-Cache"] == "HIT"
    assert api_client.get("/api/profiles/alice/")["X-Cache"] == "MISS"


def test_unknown_or_uncached_model_is_a_clear_error():
    with pytest.raises(CommandError, match="Unknown model"):
        command("cache_warm", "--model", "nope.Nothing")
    with pytest.raises(CommandError, match="not cached"):
        command("cache_clear", "--model", "auth.Group")


def test_cache_clear_all_keeps_other_apps_keys(api_client, product, redis):
    command("cache_warm")
    redis.set("other-app:session", "keep me")
    redis.set("shopping:cart", "keep me too")  # shares the first letters only
    output = command("cache_clear", "--all")
    assert "removed" in output
    assert redis.get("other-app:session") == b"keep me"
    assert redis.get("shopping:cart") == b"keep me too"
    assert not list(redis.scan_iter(match=f"{keys.pattern()[:-1]}r:*"))
    assert api_client.get(f"/api/products/{product.pk}/")["X-Cache"] == "MISS"
    redis.delete("other-app:session", "shopping:cart")


def test_cache_clear_one_model(api_client, product, user):
    command("cache_warm")
    command("cache_clear", "--model", "catalog.Product")
    assert api_client.get(f"/api/products/{product.pk}/")["X-Cache"] == "MISS"
    assert api_client.get("/api/profiles/alice/")["X-Cache"] == "HIT"


def test_cache_clear_covers_a_user_changed_outside_django(
    api_client, product, user, staff_user
):
    """A user renamed and a staff user demoted in psql: their profiles and the
    token's identity come from the cache until cache_clear --model auth.User."""
    Product.objects.filter(pk=product.pk).update(is_active=False)
    token = Token.objects.get_or_create(user=staff_user)[0].key
    staff = {"HTTP_AUTHORIZATION": f"Token {token}"}
    url = f"/api/products/{product.pk}/"
    assert api_client.get(url, **staff).status_code == 200
    assert api_client.get(f"/api/profiles/{user.username}/").status_code == 200
    table = User._meta.db_table
    outside_django(
        f"UPDATE {table} SET is_staff = %s WHERE id = %s", [False, staff_user.pk]
    )
    outside_django(f"UPDATE {table} SET username = %s WHERE id = %s", ["zed", user.pk])
    assert api_client.get(url, **staff).status_code == 200  # nothing saw the writes
    assert "auth.User" in command("cache_clear", "--model", "auth.User")
    assert api_client.get(url, **staff).status_code == 404
    assert api_client.get("/api/profiles/zed/").json()["username"] == "zed"
    assert api_client.get(f"/api/profiles/{user.username}/").status_code == 404


def test_cache_clear_of_a_model_covers_its_many_to_many_changed_outside_django(
    api_client, product
):
    url = f"/api/products/{product.pk}/"
    assert api_client.get(url).json()["tags"] == ["sale"]
    through = Product.tags.through._meta.db_table
    outside_django(f"DELETE FROM {through} WHERE product_id = %s", [product.pk])
    assert api_client.get(url).json()["tags"] == ["sale"]  # nothing saw the write
    command("cache_clear", "--model", "catalog.Product")
    assert api_client.get(url).json()["tags"] == []


def test_cache_stats_counts_hits_misses_and_invalidations(api_client, product):
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    api_client.get(url)
    api_client.get(url)
    product.save()
    stats = json.loads(command("cache_stats", "--json"))
    detail = stats["groups"]["api:product-detail"]
    assert (detail["hits"], detail["misses"]) == (2, 1)
    assert detail["hit_ratio"] == pytest.approx(2 / 3, abs=0.001)
    assert stats["invalidations"]["catalog.product"] >= 1
    assert stats["keys"] > 0
    assert stats["memory_bytes"] > 0
    table = command("cache_stats")
    assert "api:product-detail" in table
    assert "66.7%" in table


def test_cache_verify_passes_on_a_fresh_cache(product):
    command("cache_warm")
    assert "0 stale" in command("cache_verify")


def cached_detail(api_client, product, redis) -> tuple[str, str, bytes]:
    """GET a product's detail once; return its URL, entry key and stored bytes."""
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    key = keys.response_key(url, "public")
    return url, key, redis.get(key)


def resealed(key: str, raw: bytes, old: bytes, new: bytes) -> bytes:
    """Return raw with old replaced by new in its body, sealed again: a stale
    entry as a bug of the app itself would write it."""
    asof, wire, payload = raw.split(b"\n", 2)
    body = payload[codec.TAG :].replace(old, new)
    return b"\n".join([asof, wire, codec.seal(key, asof.decode(), wire.decode(), body)])


def test_cache_verify_reports_a_stale_entry_planted_in_redis(
    api_client, product, redis
):
    url, key, raw = cached_detail(api_client, product, redis)
    assert b'"price":"12.50"' in raw
    redis.set(key, resealed(key, raw, b'"price":"12.50"', b'"price":"1.00"'))
    assert api_client.get(url).json()["price"] == "1.00"  # it would be served
    with pytest.raises(SystemExit) as exit_info:
        command("cache_verify", "--model", "catalog.Product")
    assert exit_info.value.code == 1
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("cache_verify", stdout=out, stderr=StringIO())
    assert key in out.getvalue()
    assert "price: cached '1.00', database '12.50'" in out.getvalue()


def test_cache_verify_ignores_entries_that_would_not_be_served(
    api_client, product, redis
):
    _, key, raw = cached_detail(api_client, product, redis)
    Product.objects.filter(pk=product.pk).update(price="3.00")  # stamps move past it
    redis.set(key, raw)  # the old entry is still there, but unservable
    assert "0 stale" in command("cache_verify")


def test_cache_verify_is_fast_enough_for_thousands(product):
    ProductFactory.create_batch(300, category=product.category)
    command("cache_warm", "--model", "catalog.Product")
    output = command("cache_verify", "--sample", "200", "--model", "catalog.Product")
    assert "0 stale" in output


def test_breaker_is_left_closed_by_commands():
    assert cache_client.breaker.is_open is False
