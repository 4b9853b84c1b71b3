"""
The Redis connection, behind circuit breakers.

django-redis owns the connection pool (and its short socket timeouts); this
module adds what it lacks: after one failure Redis is not called again for a
cooldown, so an outage costs each request nothing, and the state changes are
logged once per transition rather than once per request.

There is one breaker per key shard (caching.store.keys): on a Redis Cluster a dead
primary opens the breakers of the shards it held, and the shards on the healthy
primaries keep answering. With one Redis (or Sentinel) there is one shard, so
one breaker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, TypeVar

from django.core.signals import setting_changed
from django.dispatch import receiver
from django_redis import get_redis_connection
from redis import Redis
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _HiredisParser
from redis.cluster import RedisCluster
from redis.connection import HIREDIS_AVAILABLE, HiredisRespSerializer
from redis.exceptions import (
    ConnectionError,
    RedisClusterException,
    RedisError,
    ResponseError,
)
from redis.sentinel import SentinelConnectionPool

from caching import conf
from caching.store import keys, metrics

if HIREDIS_AVAILABLE:
    import hiredis

logger = logging.getLogger("caching")
T = TypeVar("T")


class CacheUnavailable(Exception):
    """Redis could not be used; the caller answers from the database."""


class ShardsUnavailable(RedisError):
    """Part of a multi-shard operation failed: these shards were not reached
    (the others were: a dead cluster node costs only its own shards)."""

    def __init__(self, shards: Iterable[int], cause: BaseException) -> None:
        self.shards = sorted(set(shards))
        self.cause = cause
        super().__init__(f"shards {self.shards}: {type(cause).__name__}: {cause}")


class _Draining(threading.local):
    active = False


_draining = _Draining()
# Run with the connection before a shard's first call after an outage is
# answered: the outbox drain, so no entry made stale meanwhile is served.
# Called as hook(redis, shards): the shards coming back.
recovery_hooks: list[Callable[[Redis, list[int]], object]] = []
# Called with every new raw connection and the shards its server holds, before
# its first command: the outbox applies what Redis lacks (caching.orm.outbox).
connection_hooks: list[Callable[[Any, list[int]], object]] = []


class CircuitBreaker:
    """Closed: call Redis. Open: fail fast until the cooldown ends, then probe."""

    def __init__(self, shard: int = 0) -> None:
        self.shard = shard
        self._lock = threading.Lock()
        self.open_until = 0.0
        self.is_open = False

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
                metrics.breaker_state(any_open())
                logger.warning(
                    "cache unavailable%s, reading from the database: %s: %s",
                    _which(self.shard),
                    type(exc).__name__,
                    exc,
                )

    def recover(self, redis: Redis) -> None:
        """Run the recovery hooks; the breaker closes only if they succeed."""
        with draining():
            for hook in recovery_hooks:
                hook(redis, [self.shard])

    def success(self) -> None:
        if not self.is_open:
            return
        with self._lock:
            if not self.is_open:
                return
            self.is_open = False
        metrics.breaker_state(any_open())
        logger.warning("cache available again%s", _which(self.shard))

    def reset(self) -> None:
        with self._lock:
            self.is_open = False
            self.open_until = 0.0


def _which(shard: int) -> str:
    return f" (shard {shard})" if len(keys.roots()) > 1 else ""


class _Breakers:
    """One breaker per shard, made on first use (the shard count is a setting)."""

    def __init__(self) -> None:
        self._by_shard: dict[int, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def __getitem__(self, shard: int) -> CircuitBreaker:
        found = self._by_shard.get(shard)
        if found is None:
            with self._lock:
                found = self._by_shard.setdefault(shard, CircuitBreaker(shard))
        return found

    def all(self) -> list[CircuitBreaker]:
        return [self[shard] for shard in range(len(keys.roots()))]

    def reset(self) -> None:
        for breaker in list(self._by_shard.values()):
            breaker.reset()


breakers = _Breakers()


class _AnyShard:
    """``client.breaker``: the breakers of every shard seen as one (the admin
    page, the tests), and shard 0's for callers that name none."""

    @property
    def is_open(self) -> bool:
        return any_open()

    def reset(self) -> None:
        breakers.reset()

    def failure(self, exc: BaseException) -> None:
        for one in breakers.all():
            one.failure(exc)


breaker = _AnyShard()


def any_open() -> bool:
    """Return whether any shard's breaker keeps Redis out."""
    return any(one.is_open for one in breakers.all())


class draining:  # noqa: N801  (a context manager used like a function)
    """Within it, new connections run no outbox check (the drain's own)."""

    def __enter__(self) -> None:
        self.was = _draining.active
        _draining.active = True

    def __exit__(self, *exc: object) -> None:
        _draining.active = self.was


def refresh_slots(redis: Any) -> None:
    """On a cluster, fetch the slot map again (a shard coming back may have a
    promoted replica for a primary): the probe then goes to the right node."""
    if isinstance(redis, RedisCluster):
        try:
            redis.nodes_manager.initialize()
        except (RedisError, RedisClusterException):
            logger.debug("slot map not refreshed", exc_info=True)


def _recover_reachable(redis: Redis) -> None:
    """Before an operation over every shard: recover the open shards that can
    be; one that cannot stays open, and must not stop the operation reaching
    the others (a write's invalidation above all)."""
    for each in breakers.all():
        if each.is_open:
            try:
                each.recover(redis)
            except (RedisError, RedisClusterException) as exc:
                each.failure(exc)


@lru_cache(maxsize=1)
def connection() -> Redis:
    """Return the pooled Redis client of the default cache.

    Looked up once per process (and again when CACHES changes): Django's cache
    handler resolves an alias through a context-local on every access, a tenth
    of a hit's time in this process. The client is thread-safe; its pool is the
    one django-redis keeps for the cache.
    """
    return get_redis_connection("default")


@receiver(setting_changed)
def _forget_client(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES":
        connection.cache_clear()


class _Held:
    """A connection a thread checked out of its pool for as long as it lives:
    handed back when the thread ends (its thread-local state is dropped) or
    the pool changes, unless it was forgotten after a failure."""

    __slots__ = ("conn", "pool", "pid")

    def __init__(self, conn: Any, pool: Any) -> None:
        self.conn, self.pool, self.pid = conn, pool, os.getpid()

    def __del__(self) -> None:
        # In a forked child the pool has reset itself: the parent's to release.
        if self.conn is not None and self.pid == os.getpid():
            with contextlib.suppress(Exception):  # at interpreter exit, say
                self.pool.release(self.conn)


class _Own(threading.local):
    held: _Held | None = None


_own = _Own()


def direct(redis: Redis | RedisCluster, *command: Any) -> Any:
    """Send one command and return its reply, on this thread's own connection.

    What ``execute_command`` does, without its per-call pool checkout (a lock,
    a readiness poll of the socket, pool instrumentation) and retry wrapper:
    about half of a hit's time in redis-py 8. Each thread keeps one: a sync
    worker's main thread, each thread of a threaded server (gunicorn's gthread);
    a thread that ends hands its connection back. The connection is the pool's
    (made by its factory, so the connection hooks run on each connect); after a
    failure it goes back to the pool disconnected and the error is raised, for
    the breaker. A cluster client routes commands itself: the normal way.
    """
    if not _owns(redis):
        return redis.execute_command(*command)
    return _on_own(redis, [command])[0]


def direct_many(redis: Redis | RedisCluster, commands: list[tuple]) -> list | None:
    """Send commands in one round trip on this thread's own connection and
    return their replies (the first error reply raised once all are read);
    None where there is no such connection (the caller pipelines)."""
    if not _owns(redis):
        return None
    return _on_own(redis, commands)


def direct_packed(
    redis: Redis | RedisCluster, packed: bytes, replies: int
) -> list | None:
    """Send commands already packed (hiredis.pack_command) in one round trip
    on this thread's own connection and return their ``replies`` replies;
    None where there is no such connection (caching.store.rereads)."""
    if not _owns(redis):
        return None
    conn, kept = _checkout(redis)
    return _sent(redis, conn, kept, [packed], replies)


def keeps_own() -> bool:
    """Return whether this thread sends on a connection of its own (direct)."""
    return _owns(connection())


def _owns(redis: Any) -> bool:
    return type(redis) is Redis


def _checkout(redis: Any) -> tuple[Any, bool]:
    """Return this thread's connection, and whether it kept it from an earlier
    call (one just taken from the pool passed the pool's readiness check)."""
    pool = redis.connection_pool
    held = _own.held
    if held is not None and held.pool is pool and held.pid == os.getpid():
        return held.conn, True
    # (the one it replaces, of a pool the settings changed, goes back)
    _own.held = held = _Held(pool.get_connection(), pool)
    return held.conn, False


def _on_own(redis: Any, commands: list[tuple]) -> list:
    conn, kept = _checkout(redis)
    return _sent(redis, conn, kept, _packed(conn, commands), len(commands))


def _sent(redis: Any, conn: Any, kept: bool, packed: Any, count: int) -> list:
    """Exchange packed for count replies on conn, this thread's connection
    (``kept``: from an earlier call).

    A kept connection may have been closed by the server while it sat idle
    (Redis's ``timeout``, ``CLIENT KILL``, a restart): the exchange then fails
    at once with a ConnectionError (not a timeout), and goes once more on a
    new connection, as redis-py's own retry would, rather than open the
    breaker for a connection nobody needed. What goes this way may run twice
    if the connection broke after the server ran it, and that is harmless:
    reads (a read finds the lease it took itself: READ), fills under a lease
    (the second finds it gone and stores nothing), stamps raised again, a
    counter counted twice.
    """
    try:
        return _exchange(redis, conn, packed, count)
    except ConnectionError:
        if not kept:
            raise
    conn, _ = _checkout(redis)  # _exchange forgot the closed one
    return _exchange(redis, conn, packed, count)  # a pool's connections pack alike


def _exchange(redis: Any, conn: Any, packed: Any, count: int) -> list:
    replies: list = []
    try:
        conn.send_packed_command(packed, check_health=False)
        replies.append(_reply(conn))
        parser = _buffered(conn)
        for _ in range(count - 1):
            replies.append(_next_reply(conn, parser))
    except BaseException:
        _forget_own(conn, redis.connection_pool)
        raise
    for reply in replies:
        if isinstance(reply, ResponseError):
            raise reply
    return replies


def _reply(conn: Any) -> Any:
    try:
        return conn.read_response()
    except ResponseError as exc:  # a reply: the connection is fine
        return exc


def _buffered(conn: Any) -> Any:
    """Return conn's hiredis parser, whose buffer holds the replies that came
    with the first (a reread's ten replies arrive in one read), or None: every
    reply through conn.read_response, which costs a few microseconds of wrapping
    each. With RESP3 (redis-py 8's default) only if hiredis marks push
    messages, which go to redis-py's handler as read_response sends them."""
    parser = conn._parser
    if type(parser) is _HiredisParser and (
        conn.protocol in (2, "2", None)
        or parser._hiredis_PushNotificationType is not None
    ):
        return parser
    return None


def _next_reply(conn: Any, parser: Any) -> Any:
    if parser is not None:
        reply = parser._reader.gets()
        if reply is not NOT_ENOUGH_DATA:
            if isinstance(reply, ConnectionError):
                raise reply
            push = parser._hiredis_PushNotificationType
            if push is None or not isinstance(reply, push):
                return reply
            parser.handle_push_response(reply)  # not a reply: read on
    return _reply(conn)


def _packed(conn: Any, commands: list[tuple]) -> list[bytes]:
    """Return commands in the Redis protocol, as conn's packer would.

    What comes here is EVALSHA (scripts.call, pipeline.pipelined), its
    arguments str, bytes and int: hiredis packs them as redis-py's hiredis
    packer does, without that packer's per-argument conversions (a tenth of a
    hit's read in-process). Any other packer, a command name of two words
    ("CONFIG GET", which redis-py splits) or an argument hiredis refuses goes
    through conn.
    """
    if type(getattr(conn, "_command_packer", None)) is HiredisRespSerializer and all(
        " " not in each[0] for each in commands
    ):
        try:
            return [b"".join([hiredis.pack_command(each) for each in commands])]
        except TypeError:  # an argument hiredis refuses: redis-py's own handling
            pass
    if len(commands) == 1:
        return conn.pack_command(*commands[0])
    return conn.pack_commands(commands)


def _forget_own(conn: Any, pool: Any) -> None:
    held = _own.held
    if held is not None and held.conn is conn:
        held.conn = None  # released here, not again when dropped
        _own.held = None
    conn.disconnect()
    pool.release(conn)


def on_new_connection(raw: Any, shards: list[int]) -> None:
    """Run the connection hooks for a new raw connection (caching.store.fence)."""
    if _draining.active:
        return
    with draining():
        for hook in connection_hooks:
            hook(raw, shards)


def run(
    operation: Callable[[Redis], T],
    *,
    force: bool = False,
    shard: int | None = None,
) -> T:
    """Run operation against Redis, or raise CacheUnavailable without waiting.

    ``shard``: the one shard the operation touches (its breaker is asked and
    told); None for an operation over several shards, which is always tried:
    the shards it could not reach (``ShardsUnavailable``) have their breakers
    opened. ``force`` tries Redis even while the breaker is open (invalidations:
    a write should not skip Redis just because an earlier call failed).
    """
    one = breakers[shard] if shard is not None else None
    if one is not None and not one.allow() and not force:
        raise CacheUnavailable("circuit open")
    try:
        redis = connection()
        if one is not None and one.is_open:  # drain what it missed, then answer
            refresh_slots(redis)
            one.recover(redis)
        elif one is None:
            _recover_reachable(redis)
        result = operation(redis)
    except ShardsUnavailable as exc:
        for failed in exc.shards:
            breakers[failed].failure(exc.cause)
        raise CacheUnavailable(str(exc)) from exc
    except (RedisError, RedisClusterException) as exc:
        # A failure of an operation over several shards of a cluster cannot be
        # pinned on one of them (ShardsUnavailable does that): it opens none.
        if shard is not None or len(keys.roots()) == 1:
            breakers[shard or 0].failure(exc)
        raise CacheUnavailable(str(exc)) from exc
    if one is not None:
        one.success()
    else:
        for each in breakers.all():
            each.success()
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
        return bool(run(lambda redis: redis.ping(), shard=0))
    except CacheUnavailable:
        return False
