"""
Redis Cluster for django-redis, which has no cluster client: the thinnest one.

django-redis keeps its API (``get_redis_connection`` returns the client, the
Django cache API works); redis-py's ``RedisCluster`` does the routing, MOVED/ASK
redirects, topology refresh after a failover and multi-slot ``DELETE``/``UNLINK``
and ``SCAN``. What a cluster forbids, a multi-slot ``MGET``, is replaced here.
Every new node connection runs the fence check (caching.store.fence).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import urlparse

from django_redis.client import DefaultClient
from django_redis.pool import ConnectionFactory
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError

from caching.store import client
from caching.store.fence import fence_connection


def parse_nodes(spec: str) -> list[tuple[str, int]]:
    """Return [(host, port)] of "h1:7000,h2:7001" or "redis-cluster://h1:7000,..."."""
    if "://" in spec:
        spec = spec.split("://", 1)[1].split("/", 1)[0]
    nodes = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        parsed = urlparse(f"//{part}")
        nodes.append((parsed.hostname or "127.0.0.1", parsed.port or 6379))
    return nodes


def primaries_only(connection: Any) -> None:
    """The ``redis_connect_func`` of cluster nodes: fence a primary and apply
    what it lacks (caching.store.fence); refuse a replica.

    The fence runs on new connections only. A connection kept to a replica
    (redis-py asks any known node for the slot map) would outlive its promotion
    and serve the promoted node's old entries unfenced; refused, it is never
    made, and the first connection to the new primary is fenced like any other.
    """
    shards = fence_connection(connection)
    if not shards and _is_replica(connection):
        raise RedisConnectionError("a replica: the cache talks to primaries only")
    client.on_new_connection(connection, shards)


def _is_replica(connection: Any) -> bool:
    connection.send_command("ROLE")
    return connection.read_response()[0] in (b"slave", "slave")


class ClusterConnectionFactory(ConnectionFactory):
    """Build one ``RedisCluster`` from OPTIONS["CLUSTER_NODES"]."""

    def connect(self, url: str) -> RedisCluster:
        nodes = self.options.get("CLUSTER_NODES") or parse_nodes(url)
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in nodes],
            socket_timeout=self.options.get("SOCKET_TIMEOUT"),
            socket_connect_timeout=self.options.get("SOCKET_CONNECT_TIMEOUT"),
            redis_connect_func=primaries_only,  # after the cluster's own setup
        )

    def disconnect(self, connection: Any) -> None:
        connection.close()


class ClusterClient(DefaultClient):
    """django-redis' client over a cluster: MGET split by slot."""

    def get_many(
        self, keys: Collection[str], version: int | None = None, client: Any = None
    ) -> dict:
        client = client or self.get_client(write=False)
        names = {self.make_key(key, version=version): key for key in keys}
        values = client.mget_nonatomic(list(names)) if names else []
        return {
            names[name]: self.decode(value)
            for name, value in zip(names, values, strict=True)
            if value is not None
        }
