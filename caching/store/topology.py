"""
The Redis topology, read from the environment: one server, Sentinel or Cluster.

Pure parsing (settings.py calls it before apps load): returns the ``CACHES``
entry and the number of key shards that suit it. Formats:

    REDIS_URL=redis://host:6379/0                       one server (or unix://)
    REDIS_URL=redis-sentinel://h1:26379,h2:26379/mymaster/0
    REDIS_SENTINELS=h1:26379,h2:26379  REDIS_SENTINEL_MASTER=mymaster  [REDIS_DB=0]
    REDIS_URL=redis-cluster://h1:7000,h2:7001          (or REDIS_CLUSTER_NODES=...)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

SINGLE, SENTINEL, CLUSTER = "single", "sentinel", "cluster"
CLUSTER_SHARDS = 16  # hash-slot shards (caching.store.keys): several per primary
SENTINEL_FACTORY = "caching.store.fence.FencedSentinelConnectionFactory"
CLUSTER_FACTORY = "caching.store.cluster.ClusterConnectionFactory"


@dataclass(frozen=True)
class Topology:
    kind: str
    cache: dict[str, Any]
    shards: int


def _hosts(spec: str, default_port: int) -> list[tuple[str, int]]:
    hosts = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        parsed = urlparse(f"//{part}")
        hosts.append((parsed.hostname or "127.0.0.1", parsed.port or default_port))
    if not hosts:
        raise ValueError(f"no host in {spec!r}")
    return hosts


def from_env(env: Mapping[str, str], *, url: str, options: dict[str, Any]) -> Topology:
    """Return the topology named by env; url is REDIS_URL (or the embedded one).

    ``options`` are the django-redis OPTIONS every topology shares (timeouts).
    """
    base = {"BACKEND": "django_redis.cache.RedisCache"}
    nodes = env.get("REDIS_CLUSTER_NODES", "")
    if nodes or url.startswith("redis-cluster://"):
        spec = nodes or url.split("://", 1)[1].split("/", 1)[0]
        hosts = _hosts(spec, 6379)
        return Topology(
            CLUSTER,
            {
                **base,
                "LOCATION": f"redis://{hosts[0][0]}:{hosts[0][1]}",
                "OPTIONS": {
                    **options,
                    "CLIENT_CLASS": "caching.store.cluster.ClusterClient",
                    "CONNECTION_FACTORY": CLUSTER_FACTORY,
                    "CLUSTER_NODES": hosts,
                },
            },
            int(env.get("CACHE_SHARDS", CLUSTER_SHARDS)),
        )
    sentinels = env.get("REDIS_SENTINELS", "")
    if sentinels or url.startswith("redis-sentinel://"):
        if sentinels:
            master = env.get("REDIS_SENTINEL_MASTER", "mymaster")
            db = env.get("REDIS_DB", "0")
        else:
            sentinels, _, rest = url.split("://", 1)[1].partition("/")
            master, _, db = rest.partition("/")
            master, db = master or "mymaster", db or "0"
        timeouts = {k.lower(): v for k, v in options.items() if k.startswith("SOCKET")}
        return Topology(
            SENTINEL,
            {
                **base,
                "LOCATION": f"redis://{master}/{db}",
                "OPTIONS": {
                    **options,
                    "CLIENT_CLASS": "django_redis.client.SentinelClient",
                    "CONNECTION_FACTORY": SENTINEL_FACTORY,
                    "SENTINELS": _hosts(sentinels, 26379),
                    "SENTINEL_KWARGS": timeouts,
                },
            },
            int(env.get("CACHE_SHARDS", 1)),
        )
    return Topology(
        SINGLE,
        {
            **base,
            "LOCATION": url,
            "OPTIONS": {
                **options,
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "CONNECTION_FACTORY": "caching.store.fence.FencedConnectionFactory",
            },
        },
        int(env.get("CACHE_SHARDS", 1)),
    )
