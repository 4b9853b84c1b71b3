"""
Redis's memory policy, checked: eviction may take entries, never the metadata
that keeps reads correct (docs/contract.md §4.12).

Entries, leases, rate counters and job locks have a TTL; the clock, floor,
ticks, origin, stamp hashes and counters have none. So the policy to run with is
``maxmemory-policy volatile-lru`` (or another ``volatile-*``) and a
``maxmemory``: under a flood of distinct queries Redis evicts old entries and
keeps answering. ``allkeys-*`` may evict stamps, and an entry that outlives its
stamps is served stale; ``noeviction`` is safe but, once full, refuses every
fill, so the cache stops caching; no ``maxmemory`` lets Redis grow until the
machine has no memory left.
"""

from __future__ import annotations

from typing import Any

from caching.store import client

RECOMMENDED = "volatile-lru"


def _config(redis: Any) -> list[dict]:
    primaries = getattr(redis, "get_primaries", None)  # a cluster: each primary
    nodes = [node.redis_connection for node in primaries()] if primaries else [redis]
    return [node.config_get("maxmemory*") for node in nodes]


def problems() -> list[str]:
    """Return what is unsafe or unwise in the memory settings of Redis."""
    try:
        configs = client.run(_config)
    except client.CacheUnavailable:
        return []
    except Exception:  # noqa: BLE001  (CONFIG disabled on a managed Redis)
        return [
            "could not read Redis's memory policy (CONFIG GET refused); make sure "
            f"it is maxmemory-policy {RECOMMENDED} with a maxmemory"
        ]
    found: list[str] = []
    for config in configs:
        policy = str(config.get("maxmemory-policy", ""))
        limit = int(config.get("maxmemory", 0) or 0)
        if policy.startswith("allkeys"):
            found.append(
                f"maxmemory-policy {policy} may evict invalidation stamps, and an "
                f"entry that outlives its stamps is served stale: use {RECOMMENDED}"
            )
        elif policy == "noeviction" and limit:
            found.append(
                "maxmemory-policy noeviction: once Redis is full every fill is "
                f"refused and the cache stops caching; use {RECOMMENDED}"
            )
        if not limit:
            found.append(
                "no maxmemory: Redis grows with every distinct query until the "
                f"machine runs out of memory; set one, with {RECOMMENDED}"
            )
    return sorted(set(found))
