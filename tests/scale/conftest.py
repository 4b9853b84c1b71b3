"""
Sentinel and Cluster topologies, started by the suite on loopback ports with the
machine's redis-server, and a fixture pointing the app's cache at one of them.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from redis.cluster import RedisCluster
from redis.sentinel import SentinelConnectionPool

from caching.store import client as cache_client
from caching.store import fence, keys, topology
from tests.servers import Cluster, SentinelSetup


@pytest.fixture(scope="session")
def sentinel_servers(tmp_path_factory):
    servers = SentinelSetup(tmp_path_factory.mktemp("sentinel"))
    yield servers
    servers.stop()


@pytest.fixture(scope="session")
def cluster_servers(tmp_path_factory):
    servers = Cluster(tmp_path_factory.mktemp("cluster"))
    yield servers
    servers.stop()


def point_cache_at(settings, url: str) -> None:
    """Configure the app's cache for url as settings.py would, and start clean."""
    options = django_settings.CACHES["default"]["OPTIONS"]
    timeouts = {k: v for k, v in options.items() if k.startswith("SOCKET")}
    found = topology.from_env({}, url=url, options=timeouts)
    settings.CACHES = {
        "default": {
            **found.cache,
            "KEY_PREFIX": django_settings.CACHING["PREFIX"],
            "TIMEOUT": django_settings.CACHING["TTL"],
        }
    }
    settings.CACHING = {**settings.CACHING, "SHARDS": found.shards}
    settings.REDIS_URL = url
    cache_client.breaker.reset()
    redis = cache_client.connection()
    stale = list(redis.scan_iter(match=keys.pattern(), count=1000))
    if stale:
        redis.delete(*stale)
    fence.ensure(redis)


@pytest.fixture(params=["sentinel", "cluster"])
def on_topology(request, settings):
    """Run the test with the cache on Sentinel, then on a Cluster."""
    servers = request.getfixturevalue(f"{request.param}_servers")
    point_cache_at(settings, servers.url)
    redis = cache_client.connection()
    if request.param == "cluster":
        assert isinstance(redis, RedisCluster)
    else:
        assert isinstance(redis.connection_pool, SentinelConnectionPool)
    yield servers
    cache_client.breaker.reset()
