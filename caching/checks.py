"""System checks for a misconfigured cache."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from caching import conf
from caching.store import memory


@register()
def check_cache_settings(app_configs, **kwargs):
    problems: list[CheckMessage] = []
    options = settings.CACHES.get("default", {}).get("OPTIONS", {})
    if (
        settings.CACHES.get("default", {}).get("BACKEND")
        != "django_redis.cache.RedisCache"
    ):
        problems.append(
            Error("The default cache must be django-redis.", id="caching.E001")
        )
    if options.get("IGNORE_EXCEPTIONS"):
        problems.append(
            Error(
                "IGNORE_EXCEPTIONS drops invalidations silently while Redis is away.",
                hint="Remove it; the caching layer handles outages itself.",
                id="caching.E002",
            )
        )
    try:
        prefix, ttl = conf.key_prefix(), conf.default_ttl()
    except (ValueError, TypeError) as exc:  # an unknown or malformed setting
        return [*problems, Error(f"CACHING: {exc}", id="caching.E004")]
    if not prefix or any(ch in prefix for ch in "*?[]{}: "):
        problems.append(
            Error(
                "CACHING['PREFIX'] must be non-empty, without glob characters, "
                "colons or spaces.",
                id="caching.E003",
            )
        )
    if ttl <= 0:
        problems.append(
            Warning("CACHING['TTL'] should be positive.", id="caching.W001")
        )
    return problems


@register(Tags.caches, deploy=True)
def check_redis_memory_policy(app_configs, **kwargs):
    """With --deploy: Redis must evict entries only, never stamps."""

    return [
        Warning(f"Redis: {problem}.", id="caching.W002")
        for problem in memory.problems()
    ]
