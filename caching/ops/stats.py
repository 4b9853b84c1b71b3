"""
What the cache did: hits, misses, fill conflicts and invalidations per model and
endpoint (counted in Redis by the scripts, so every process adds to the same
figures), keys, memory, the topology and its warnings; and the Prometheus
collector that exposes the same counters at scrape time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from caching.ops.clear import scan
from caching.store import client, keys, memory
from caching.store.client import CacheUnavailable, run


def read_counters() -> dict[str, int]:
    """Return the counters kept in Redis ({"hit:api:product-detail": 3, ...})."""

    def read(redis: Any) -> list[dict]:
        pipe = redis.pipeline(transaction=False)
        for shard in range(len(keys.roots())):
            pipe.hgetall(keys.stats_key(shard))
        return pipe.execute()

    totals: dict[str, int] = {}
    for counters in client.run(read):  # one hash per shard: added up
        for name, value in counters.items():
            totals[name.decode()] = totals.get(name.decode(), 0) + int(value)
    return totals


def stats() -> dict:
    """Return hits, misses and ratios per group, invalidations, keys and memory."""
    counters = read_counters()
    groups: dict[str, dict] = defaultdict(
        lambda: {"hits": 0, "misses": 0, "conflicts": 0}
    )
    invalidations: dict[str, int] = {}
    for name, value in counters.items():
        kind, _, group = name.partition(":")
        if kind == "inval":
            invalidations[group] = value
        elif kind in {"hit", "miss", "conflict"}:
            groups[group][{"hit": "hits", "miss": "misses"}.get(kind, "conflicts")] = (
                value
            )
    for figures in groups.values():
        total = figures["hits"] + figures["misses"]
        figures["hit_ratio"] = round(figures["hits"] / total, 4) if total else None
    all_keys = list(scan(keys.pattern()))
    used = 0
    for start in range(0, len(all_keys), 500):
        part = all_keys[start : start + 500]

        def usage(redis, part=part):
            pipe = redis.pipeline(transaction=False)
            for key in part:
                pipe.memory_usage(key)
            return pipe.execute()

        used += sum(n or 0 for n in run(usage))
    hits = sum(g["hits"] for g in groups.values())
    misses = sum(g["misses"] for g in groups.values())
    return {
        "hits": hits,
        "misses": misses,
        "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
        "groups": dict(sorted(groups.items())),
        "invalidations": dict(sorted(invalidations.items())),
        "keys": len(all_keys),
        "memory_bytes": used,
        "redis": {
            "topology": client.topology(),
            "shards": len(keys.roots()),
            "warnings": memory.problems(),
        },
    }


def recent_invalidations(limit: int = 20) -> list[tuple[int, str]]:
    """Return the latest invalidations as (unix time, stamps)."""
    rows = run(lambda redis: redis.lrange(keys.recent_key(), 0, limit - 1))
    result = []
    for row in rows:
        when, _, what = (row.decode() if isinstance(row, bytes) else row).partition(" ")
        result.append((int(when), what))
    return result


class RedisStatsCollector(Collector):
    """Expose the shared counters kept in Redis."""

    def collect(self) -> Iterator:
        families = {
            "hit": CounterMetricFamily("cache_hits", "Cache hits.", labels=["group"]),
            "miss": CounterMetricFamily(
                "cache_misses", "Cache misses.", labels=["group"]
            ),
            "conflict": CounterMetricFamily(
                "cache_fill_conflicts",
                "Fills refused because a write overlapped the read.",
                labels=["group"],
            ),
            "inval": CounterMetricFamily(
                "cache_invalidations", "Invalidations per model.", labels=["model"]
            ),
        }
        up = GaugeMetricFamily("cache_up", "1 when Redis answered this scrape.")
        try:
            counters = read_counters()
            up.add_metric([], 1)
        except CacheUnavailable:
            counters = {}
            up.add_metric([], 0)
        for name, value in counters.items():
            kind, _, group = name.partition(":")
            if kind in families:
                families[kind].add_metric([group], value)
        yield from families.values()
        yield up
