"""Configuration by URL (caching.store.topology) and what cache_stats reports."""

from __future__ import annotations

import pytest

from caching.ops import stats
from caching.store import topology

pytestmark = pytest.mark.scale
TIMEOUTS = {"SOCKET_TIMEOUT": 0.25, "SOCKET_CONNECT_TIMEOUT": 0.25}


def test_a_plain_url_is_one_server():
    found = topology.from_env({}, url="redis://cache:6379/2", options=TIMEOUTS)
    assert found.kind == topology.SINGLE
    assert found.cache["LOCATION"] == "redis://cache:6379/2"
    assert found.cache["OPTIONS"]["CONNECTION_FACTORY"].endswith(
        "FencedConnectionFactory"
    )
    assert found.shards == 1


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "redis-sentinel://s1:26379,s2/shopmaster/3"),
        ({"REDIS_SENTINELS": "s1:26379,s2", "REDIS_SENTINEL_MASTER": "shopmaster",
          "REDIS_DB": "3"}, "redis://ignored:6379/0"),
    ],
)  # fmt: skip
def test_sentinel_by_url_or_variables(env, url):
    found = topology.from_env(env, url=url, options=TIMEOUTS)
    assert found.kind == topology.SENTINEL
    assert found.cache["LOCATION"] == "redis://shopmaster/3"
    options = found.cache["OPTIONS"]
    assert options["SENTINELS"] == [("s1", 26379), ("s2", 26379)]
    assert options["CLIENT_CLASS"] == "django_redis.client.SentinelClient"
    assert options["SENTINEL_KWARGS"] == {
        "socket_timeout": 0.25,
        "socket_connect_timeout": 0.25,
    }
    assert found.shards == 1


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "redis-cluster://n1:7000,n2:7001"),
        ({"REDIS_CLUSTER_NODES": "n1:7000, n2:7001"}, "redis://ignored:6379/0"),
    ],
)
def test_cluster_by_url_or_variable(env, url):
    found = topology.from_env(env, url=url, options=TIMEOUTS)
    assert found.kind == topology.CLUSTER
    assert found.cache["OPTIONS"]["CLUSTER_NODES"] == [("n1", 7000), ("n2", 7001)]
    assert (
        found.cache["OPTIONS"]["CLIENT_CLASS"] == "caching.store.cluster.ClusterClient"
    )
    assert found.shards == 16
    assert topology.from_env({"CACHE_SHARDS": "6"}, url=url, options={}).shards == 6


@pytest.mark.django_db
def test_cache_stats_names_the_topology_it_runs_on(on_topology, request):
    expected = request.node.callspec.params["on_topology"]
    redis = stats.stats()["redis"]
    assert redis["topology"] == expected
    assert redis["shards"] == (16 if expected == "cluster" else 1)
