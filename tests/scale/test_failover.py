"""
Failovers and slot moves, on servers of their own (the tests break them).

Redis replicates asynchronously: a primary can acknowledge an invalidation stamp
and die before its replica has it. The deterministic version of that loss is
built here by pausing the replica (SIGSTOP) while the write is acknowledged, then
killing the primary: the promoted replica holds the old entry and not the stamp
that voids it. Served as is, that entry would be stale; the fence (caching.store.fence)
must turn it into a miss.
"""

from __future__ import annotations

import threading
import time

import pytest
from redis.crc import key_slot

from caching.ops import verify
from caching.store import keys
from catalog.models import Product
from scripts import consistency
from tests.scale.conftest import point_cache_at
from tests.servers import Cluster, SentinelSetup, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.scale]
NEW_NAME = "Acknowledged, never replicated"


def serve_cache_from(servers, settings):
    """Point the app's cache at servers for one test, then stop them."""
    point_cache_at(settings, servers.url)
    yield servers
    servers.stop()


@pytest.fixture
def sentinel(tmp_path, settings):
    yield from serve_cache_from(SentinelSetup(tmp_path), settings)


@pytest.fixture
def cluster(tmp_path, settings):
    yield from serve_cache_from(Cluster(tmp_path), settings)


def cached_detail(api_client, product) -> str:
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    assert api_client.get(url)["X-Cache"] == "HIT"
    return keys.response_key(url, "public")


def first_cached_answer(api_client, url: str):
    """Read until the cache answers again (the breaker waits out the switch)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = api_client.get(url)
        assert response.status_code == 200
        if response["X-Cache"] != "BYPASS":
            return response
        time.sleep(0.2)
    raise AssertionError("the cache never came back")


def lose_a_stamp(primary, replica, entry: str, product) -> None:
    """Write while the replica is paused: the primary acknowledges the stamp."""
    primary.client().wait(1, 5000)  # the entry is on the replica
    replica.pause()
    # Cut the link from the primary's side; the paused replica cannot reconnect,
    # so what follows stays in the primary's backlog (a SIGSTOP alone is not
    # enough: the kernel would still buffer the stream for the replica).
    primary.client().client_kill_filter(_type="replica")
    Product.objects.filter(pk=product.pk).update(name=NEW_NAME)  # stamps, no outbox
    stamps = keys.version_key(Product, keys.shard_of(entry))
    assert primary.client().hexists(stamps, str(product.pk))
    primary.kill()
    replica.resume()


def assert_stale_entry_survived(node, entry: str) -> None:
    """The promoted replica has the old entry and lacks the stamps voiding it:
    without the floor, the read script would serve it."""
    raw = node.client().get(entry)
    assert raw is not None
    assert b"Dune" in raw
    shard = keys.shard_of(entry)

    def stamps(label: str) -> dict:
        return node.client().hgetall(keys.version_key(label, shard))

    assert verify._servable(entry, raw, 0, stamps) is not None


def test_sentinel_failover_loses_a_stamp_and_serves_nothing_stale(
    sentinel, api_client, product
):
    entry = cached_detail(api_client, product)
    old_port = sentinel.master_port()
    lose_a_stamp(sentinel.primary, sentinel.replica, entry, product)
    sentinel.wait_for_failover(old_port)
    assert_stale_entry_survived(sentinel.replica, entry)

    response = first_cached_answer(api_client, f"/api/products/{product.pk}/")
    assert response.json()["name"] == NEW_NAME
    assert response["X-Cache"] == "MISS"  # fenced: filled before the failover
    assert sentinel.replica.client().get(keys.floor_key(keys.shard_of(entry)))


def test_cluster_failover_loses_a_stamp_and_serves_nothing_stale(
    cluster, api_client, product
):
    entry = cached_detail(api_client, product)
    primary = cluster.owner(key_slot(entry.encode()))
    replica = cluster.replica_of(primary)
    lose_a_stamp(primary, replica, entry, product)
    wait_until(
        lambda: replica.client().info("replication")["role"] == "master",
        30,
        "the replica to take over",
    )
    assert_stale_entry_survived(replica, entry)

    response = first_cached_answer(api_client, f"/api/products/{product.pk}/")
    assert response.json()["name"] == NEW_NAME
    assert response["X-Cache"] == "MISS"


def test_cluster_slot_move_keeps_entries_and_invalidation(
    cluster, api_client, staff_client, product
):
    entry = cached_detail(api_client, product)
    slot = key_slot(entry.encode())
    source = cluster.owner(slot)
    target = next(n for n in cluster.live() if n is not source and n.client().info(
        "replication")["role"] == "master")  # fmt: skip
    cluster.move_slot(slot, target)
    assert cluster.owner(slot) is target
    assert target.client().get(entry) is not None  # moved with its stamps

    url = f"/api/products/{product.pk}/"
    assert first_cached_answer(api_client, url)["X-Cache"] == "HIT"
    assert staff_client.patch(url, {"price": "9.99"}, format="json").status_code == 200
    response = api_client.get(url)
    assert response.json()["price"] == "9.99"
    assert response["X-Cache"] == "HIT"  # write-through, into the moved slot


def test_sentinel_primary_killed_mid_run_serves_nothing_stale(
    sentinel, settings, product
):
    """Readers and writers in processes; the primary dies halfway through."""
    Product.objects.filter(pk=product.pk).update(price=1000)
    old_port = sentinel.master_port()
    killer = threading.Timer(2.0, sentinel.primary.kill)
    killer.start()
    try:
        report = consistency.run(
            product=product.pk,
            readers=2,
            writers=1,
            writes=10_000,
            seconds=9,
            pause_ms=20,
            settle_s=1.5,
            db_url=consistency.database_url(),
            redis_url=settings.REDIS_URL,
            key_prefix=settings.CACHING["PREFIX"],
        )
    finally:
        killer.join()
    print(report.summary())
    sentinel.wait_for_failover(old_port)
    assert report.writes > 50
    assert report.stale == []
    assert report.settled_wrong == 0
