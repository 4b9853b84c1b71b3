"""
The caching layer's settings: one namespace, ``CACHING``, defaults here only.

    CACHING = {"PREFIX": "shop", "TTL": 300}

Read lazily (never at import time) and reloaded when a test changes the
setting (``setting_changed``), as DRF's ``api_settings`` is. Every accessor
below reads this one dict; the system checks use the same defaults.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # Every key this layer writes starts with "<PREFIX>:"; nothing else is
    # ever read, changed or deleted.
    "PREFIX": "cache",
    # Time-to-live of entries, seconds, spread by +/- TTL_JITTER.
    "TTL": 300,
    "TTL_JITTER": 0.1,
    # False: every read bypasses the cache (baselines, benchmarks).
    "ENABLED": True,
    # The fill lease of a miss leader, and how long followers wait for it.
    "LEASE_MS": 3000,
    "LEASE_WAIT_MS": 1000,
    # After a Redis failure, leave it alone this long (seconds).
    "BREAKER_COOLDOWN": 1.0,
    # Hash-slot shards of the keys: 1, or 16 on a Redis Cluster.
    "SHARDS": 1,
    # Apps whose writes never invalidate (caching.orm.capture).
    "UNTRACKED_APPS": ("admin", "sessions", "contenttypes", "migrations", "caching"),
    # Seconds between outbox checks of each server process; 0: none.
    "OUTBOX_POLL": 0.2,
    # Stamp compaction: how often (seconds, 0: never) and how old a stamp must
    # be to go (None: the longest TTL with jitter, two periods and a minute).
    "COMPACT_EVERY": 60.0,
    "COMPACT_HORIZON": None,
    # Fields never stored in Redis, by model label (None: the user's password).
    "SECRET_FIELDS": None,
    # Models whose primary key is a secret: in keys and stamps only as digests.
    "SECRET_PK_MODELS": ("authtoken.token",),
    # Answer hits in caching.http.wsgi.CachedApplication, before Django's
    # handler (False: in the ServeCachedHits middleware only).
    "WSGI_HITS": True,
    # Dotted paths of middleware above ServeCachedHits that do nothing to a
    # cached GET (the WSGI hit path refuses to skip any middleware it does not
    # know: it answers nothing while one is there).
    "WSGI_TRANSPARENT_MIDDLEWARE": (),
    # The textbook, racy fill (stamped after the read): only for showing that
    # the consistency checker catches stale reads (scripts/soak.py --naive).
    "NAIVE_FILL": False,
}

_values: dict[str, Any] | None = None


def value(name: str) -> Any:
    """Return one setting of ``CACHING``, or its default."""
    global _values
    if _values is None:
        configured = getattr(settings, "CACHING", {})
        unknown = set(configured) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown CACHING settings: {', '.join(sorted(unknown))}")
        _values = {**DEFAULTS, **configured}
    return _values[name]


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs: Any) -> None:
    global _values
    if setting == "CACHING":
        _values = None


def key_prefix() -> str:
    """Return the prefix every key of this layer starts with."""
    return str(value("PREFIX"))


def default_ttl() -> int:
    """Return the default time-to-live of an entry, in seconds."""
    return int(value("TTL"))


def enabled() -> bool:
    """Return whether reads may use the cache at all (off for baselines)."""
    return bool(value("ENABLED"))


def ttl_jitter() -> float:
    """Return the +/- fraction by which entry TTLs are spread."""
    return float(value("TTL_JITTER"))


def lease_ms() -> int:
    """Return how long a miss leader may hold the fill lease, in ms."""
    return int(value("LEASE_MS"))


def lease_wait_ms() -> int:
    """Return how long a follower waits for the leader's fill before querying."""
    return int(value("LEASE_WAIT_MS"))


def breaker_cooldown() -> float:
    """Return how long, in seconds, Redis is left alone after a failure."""
    return float(value("BREAKER_COOLDOWN"))


def naive_fill() -> bool:
    """Return whether fills take their asof after the read (textbook, racy)."""
    return bool(value("NAIVE_FILL"))


def shards() -> int:
    """Return how many hash-slot shards the keys are split into."""
    return int(value("SHARDS"))


def untracked_apps() -> frozenset[str]:
    """Return the app labels whose writes never invalidate (caching.orm.capture)."""
    return frozenset(value("UNTRACKED_APPS"))


def outbox_poll() -> float:
    """Return how often a server process checks the outbox, in seconds (0: never)."""
    return float(value("OUTBOX_POLL"))


def compact_every() -> float:
    """Return how often stamp hashes are compacted, in seconds (0: never)."""
    return float(value("COMPACT_EVERY"))


def compact_horizon() -> float:
    """Return how old a stamp must be to be compacted away, in seconds: longer
    than any entry lives (the longest TTL with its jitter) plus a margin for
    slow reads and for the time between two compactions."""
    configured = value("COMPACT_HORIZON")
    if configured is not None:
        return float(configured)
    return default_ttl() * (1 + ttl_jitter()) + 2 * compact_every() + 60


def secret_fields() -> dict[str, tuple[str, ...]] | None:
    """Return {model label: field names} never stored (None: the default)."""
    return value("SECRET_FIELDS")


def secret_pk_models() -> frozenset[str]:
    """Return the models whose primary key is a secret (API tokens): it reaches
    Redis only as a digest, in keys and stamps alike."""
    return frozenset(value("SECRET_PK_MODELS"))


def wsgi_hits() -> bool:
    """Return whether hits are answered at the WSGI level."""
    return bool(value("WSGI_HITS"))


def wsgi_transparent() -> tuple[str, ...]:
    """Return the middleware declared to do nothing to a cached GET."""
    return tuple(value("WSGI_TRANSPARENT_MIDDLEWARE"))
