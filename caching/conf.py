"""The caching layer's settings: one accessor each, read when called."""

from __future__ import annotations

from django.conf import settings


def key_prefix() -> str:
    """Return the prefix every key of this app starts with."""
    return getattr(settings, "CACHE_KEY_PREFIX", "shop")


def default_ttl() -> int:
    """Return the default time-to-live of an entry, in seconds."""
    return int(getattr(settings, "CACHE_TTL", 300))


def enabled() -> bool:
    """Return whether reads may use the cache at all (off for baselines)."""
    return bool(getattr(settings, "CACHE_ENABLED", True))


def ttl_jitter() -> float:
    """Return the +/- fraction by which entry TTLs are spread."""
    return float(getattr(settings, "CACHE_TTL_JITTER", 0.1))


def lease_ms() -> int:
    """Return how long a miss leader may hold the fill lease, in ms."""
    return int(getattr(settings, "CACHE_LEASE_MS", 3000))


def lease_wait_ms() -> int:
    """Return how long a follower waits for the leader's fill before querying."""
    return int(getattr(settings, "CACHE_LEASE_WAIT_MS", 1000))


def breaker_cooldown() -> float:
    """Return how long, in seconds, Redis is left alone after a failure."""
    return float(getattr(settings, "CACHE_BREAKER_COOLDOWN", 1.0))


def naive_fill() -> bool:
    """Return whether fills take their asof after the read (textbook, racy).

    Only for demonstrating that the consistency checker catches stale reads.
    """
    return bool(getattr(settings, "CACHE_NAIVE_FILL", False))


def shards() -> int:
    """Return how many hash-slot shards the keys are split into (caching.keys).

    1 for one Redis or Sentinel; more (16 by default) for Redis Cluster.
    """
    return int(getattr(settings, "CACHE_SHARDS", 1))


def untracked_apps() -> frozenset[str]:
    """Return the app labels whose writes never invalidate (caching.capture)."""
    return frozenset(
        getattr(
            settings,
            "CACHE_UNTRACKED_APPS",
            ("admin", "sessions", "contenttypes", "migrations", "caching"),
        )
    )


def outbox_poll() -> float:
    """Return how often a server process checks the outbox, in seconds (0: never)."""
    return float(getattr(settings, "CACHE_OUTBOX_POLL", 0.2))


def compact_every() -> float:
    """Return how often stamp hashes are compacted, in seconds (0: never)."""
    return float(getattr(settings, "CACHE_COMPACT_EVERY", 60))


def compact_horizon() -> float:
    """Return how old a stamp must be to be compacted away, in seconds: longer
    than any entry lives (the longest TTL with its jitter) plus a margin for
    slow reads and for the time between two compactions."""
    default = default_ttl() * (1 + ttl_jitter()) + 2 * compact_every() + 60
    return float(getattr(settings, "CACHE_COMPACT_HORIZON", default))


def secret_pk_models() -> frozenset[str]:
    """Return the models whose primary key is a secret (API tokens): it reaches
    Redis only as a digest, in keys and stamps alike."""
    return frozenset(getattr(settings, "CACHE_SECRET_PK_MODELS", ("authtoken.token",)))
