"""
The Redis connection, behind a circuit breaker.

django-redis owns the connection pool (and its short socket timeouts); this
module adds what it lacks: after one failure Redis is not called again for a
cooldown, so an outage costs each request nothing, and the state changes are
logged once per transition rather than once per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django_redis import get_redis_connection
from redis import Redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError
from redis.sentinel import SentinelConnectionPool

from caching import conf, metrics

logger = logging.getLogger("caching")
T = TypeVar("T")


class CacheUnavailable(Exception):
    """Redis could not be used; the caller answers from the database."""


class PendingInvalidations(Exception):  # noqa: N818  (not a failure)
    """A new connection found invalidations Redis lacks: apply them first.

    Deliberately not a RedisError: redis-py must not retry it or treat the
    server as down; ``run`` applies the outbox and runs the operation again.
    """


class _Draining(threading.local):
    active = False


_draining = _Draining()


class CircuitBreaker:
    """Closed: call Redis. Open: fail fast until the cooldown ends, then probe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.open_until = 0.0
        self.is_open = False
        # Run with the connection before the first call after an outage is
        # answered: the outbox drain, so no entry made stale meanwhile is served.
        self.recovery_hooks: list[Callable[[Redis], object]] = []
        # Asked by every new connection before its first command: does Redis
        # lack invalidations (the outbox has stranded rows)?
        self.pending_checks: list[Callable[[], bool]] = []

    def allow(self) -> bool:
        if not self.is_open:
            return True
        with self._lock:
            now = time.monotonic()
            if now < self.open_until:
                return False
            # Half-open: let this one caller probe, hold the others back.
            self.open_until = now + conf.breaker_cooldown()
            return True

    def failure(self, exc: BaseException) -> None:
        with self._lock:
            self.open_until = time.monotonic() + conf.breaker_cooldown()
            if not self.is_open:
                self.is_open = True
                metrics.breaker_state(True)
                logger.warning(
                    "cache unavailable, reading from the database: %s: %s",
                    type(exc).__name__,
                    exc,
                )

    def recover(self, redis: Redis) -> None:
        """Run the recovery hooks; the breaker closes only if they succeed."""
        _draining.active = True  # the hooks' own new connections need no check
        try:
            for hook in self.recovery_hooks:
                hook(redis)
        finally:
            _draining.active = False

    def success(self) -> None:
        if not self.is_open:
            return
        with self._lock:
            if not self.is_open:
                return
            self.is_open = False
        metrics.breaker_state(False)
        logger.warning("cache available again")

    def reset(self) -> None:
        with self._lock:
            self.is_open = False
            self.open_until = 0.0


breaker = CircuitBreaker()


def connection() -> Redis:
    """Return the pooled Redis client of the default cache."""
    return get_redis_connection("default")


def check_new_connection() -> None:
    """Raise PendingInvalidations if Redis lacks stranded invalidations.

    Called on every new connection before its first command (caching.fence):
    after an outage every connection is new, so a process never reads before
    the writes made meanwhile, by any process, are stamped.
    """
    if _draining.active:
        return
    if any(check() for check in breaker.pending_checks):
        raise PendingInvalidations()


def run(operation: Callable[[Redis], T], *, force: bool = False) -> T:
    """Run operation against Redis, or raise CacheUnavailable without waiting.

    ``force`` tries Redis even while the breaker is open (invalidations: a
    write should not skip Redis just because an earlier call failed).
    """
    if not breaker.allow() and not force:
        raise CacheUnavailable("circuit open")
    try:
        redis = connection()
        if breaker.is_open:
            breaker.recover(redis)
        try:
            result = operation(redis)
        except PendingInvalidations:  # a new connection found stranded rows
            breaker.recover(redis)
            result = operation(redis)
    except PendingInvalidations as exc:  # stranded again meanwhile: next time
        breaker.failure(exc)
        raise CacheUnavailable("invalidations pending") from exc
    except (RedisError, RedisClusterException) as exc:
        breaker.failure(exc)
        raise CacheUnavailable(str(exc)) from exc
    breaker.success()
    return result


def topology() -> str:
    """Return what the cache runs on: "cluster", "sentinel" or "single"."""
    redis = connection()
    if isinstance(redis, RedisCluster):
        return "cluster"
    if isinstance(redis.connection_pool, SentinelConnectionPool):
        return "sentinel"
    return "single"


def ping() -> bool:
    """Return whether Redis answers now."""
    try:
        return bool(run(lambda redis: redis.ping()))
    except CacheUnavailable:
        return False
