"""
Prometheus metrics of the cache.

Hits, misses, fill conflicts and invalidations are counted in Redis by the Lua
scripts (one shared count for every worker, no extra round trip); a collector
reads them at scrape time. Bypasses and the breaker are per process and use the
prometheus_client registry (multiprocess-aware under gunicorn).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

BYPASSES = Counter(
    "cache_bypasses_total", "Reads answered without the cache.", ["group"]
)
BREAKER_OPEN = Gauge(
    "cache_breaker_open",
    "1 while this process's circuit breaker keeps Redis out.",
    multiprocess_mode="max",
)


def bypass(group: str) -> None:
    """Count a read that did not use the cache."""
    BYPASSES.labels(group or "other").inc()


def breaker_state(is_open: bool) -> None:
    BREAKER_OPEN.set(1 if is_open else 0)


def read_counters() -> dict[str, int]:
    """Return the counters kept in Redis ({"hit:api:product-detail": 3, ...})."""
    from caching import client, keys

    def read(redis) -> list[dict]:
        pipe = redis.pipeline(transaction=False)
        for shard in range(len(keys.roots())):
            pipe.hgetall(keys.stats_key(shard))
        return pipe.execute()

    totals: dict[str, int] = {}
    for counters in client.run(read):  # one hash per shard: added up
        for name, value in counters.items():
            totals[name.decode()] = totals.get(name.decode(), 0) + int(value)
    return totals


class RedisStatsCollector(Collector):
    """Expose the shared counters kept in Redis."""

    def collect(self) -> Iterator:
        from caching.client import CacheUnavailable

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
