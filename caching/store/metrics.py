"""
Prometheus metrics of the cache.

Hits, misses, fill conflicts and invalidations are counted in Redis by the Lua
scripts (one shared count for every worker, no extra round trip), and read at
scrape time by caching.ops.stats.RedisStatsCollector. Bypasses and the breaker
are per process and use the prometheus_client registry (multiprocess-aware
under gunicorn).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge

BYPASSES = Counter(
    "cache_bypasses_total", "Reads answered without the cache.", ["group"]
)
BREAKER_OPEN = Gauge(
    "cache_breaker_open",
    "1 while this process's circuit breaker keeps Redis out.",
    multiprocess_mode="max",
)


_FAST_TOTAL = Counter(
    "cache_fast_responses_total",
    "Responses answered by the WSGI hit path (before Django's handler).",
    ["status"],
)
_FAST_SECONDS = Counter(
    "cache_fast_response_seconds_total",
    "Time spent answering them, for their mean latency.",
    ["status"],
)


class FastResponses:
    """Counts of the WSGI hit path, kept in process and added to Prometheus at
    most once a second (and at each scrape of this process): a hit pays a dict
    update, not the multiprocess file writes of per-request series. A worker
    that goes idle holds its last second's counts until its next request."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self.pending: dict[str, list[float]] = {}
        self.due = 0.0

    def count(self, status: str, seconds: float) -> None:
        entry = self.pending.get(status)
        if entry is None:
            self.pending[status] = [1, seconds]
        else:
            entry[0] += 1
            entry[1] += seconds
        now = time.monotonic()
        if now >= self.due:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        pending, self.pending = self.pending, {}
        for status, (count, seconds) in pending.items():
            _FAST_TOTAL.labels(status).inc(count)
            _FAST_SECONDS.labels(status).inc(seconds)
        self.due = (time.monotonic() if now is None else now) + self.every


FAST_RESPONSES = FastResponses()


def bypass(group: str) -> None:
    """Count a read that did not use the cache."""
    BYPASSES.labels(group or "other").inc()


def breaker_state(is_open: bool) -> None:
    BREAKER_OPEN.set(1 if is_open else 0)
