"""
Prometheus metrics of the cache.

Hits, misses, fill conflicts and invalidations are counted in Redis by the Lua
scripts (one shared count for every worker, no extra round trip), and read at
scrape time by caching.ops.stats.RedisStatsCollector. Bypasses and the breaker
are per process and use the prometheus_client registry (multiprocess-aware
under gunicorn).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

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
