"""
Fencing: no entry from before a failover is served after it.

Redis replicates asynchronously. When a primary dies, Sentinel (or the cluster)
promotes a replica that may lack the primary's last writes: invalidation stamps
it acknowledged (the outbox rows are gone: Redis said yes) and clock increments.
An entry filled before such a lost stamp would look fresh on the new primary.

So every new connection asks the server who it is (``INFO replication``: the
replication id, which a promoted replica and a restarted server change) and
compares it with the id recorded in each shard's ``origin`` key. On a different
server FENCE raises the clock to at least the server's time in microseconds and
sets the shard's ``floor`` to it: the read and fill scripts refuse every entry
whose asof is below the floor. A failover costs one miss per entry, never a
stale read. A failover always means new connections (the old primary is gone,
or demoted and refusing writes), so the check runs before the first command on
the new primary; connections to a known server cost nothing more.

The clock is moved past the server's time because an asof handed out by the old
primary may exceed what the new one remembers (assumes the servers' clocks agree
to well within the failover time, seconds with Sentinel's defaults).
"""

from __future__ import annotations

from typing import Any

from django_redis.pool import ConnectionFactory, SentinelConnectionFactory
from redis import Redis
from redis.connection import AbstractConnection
from redis.exceptions import ResponseError

from caching.store import client, keys
from caching.store.scripts import CLOCK_INIT

# KEYS: origin, clock, floor. ARGV: the server's replication id. Returns 1 when
# it fenced, 0 when the shard was already set up for this server.
FENCE = (
    CLOCK_INIT
    + """
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
local now = tonumber(clock_now(KEYS[2]))
local t = redis.call('TIME')
local floor = math.max(now + 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))
redis.call('SET', KEYS[2], string.format('%.0f', floor))
redis.call('SET', KEYS[3], string.format('%.0f', floor))
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""
)


def _replication(info: bytes | str) -> dict[str, str]:
    text = info.decode() if isinstance(info, bytes) else info
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _fence_args(shard: int, replid: str) -> list[Any]:
    return [
        "EVAL", FENCE, 3,
        keys.origin_key(shard), keys.clock_key(shard), keys.floor_key(shard),
        replid,
    ]  # fmt: skip


def fence_connection(connection: AbstractConnection) -> list[int]:
    """Fence the shards this new connection's server holds if it is a new server;
    return those shards (none on a replica).

    Runs on the raw connection before it is handed out. In a cluster the shards
    of other nodes answer MOVED and are skipped: their own connections fence
    them.
    """
    connection.send_command("INFO", "replication")
    info = _replication(connection.read_response())
    if info.get("role") != "master":
        return []
    shards = range(len(keys.roots()))
    for shard in shards:
        connection.send_command(*_fence_args(shard, info["master_replid"]))
    local = []
    for shard in shards:
        try:
            connection.read_response()
        except ResponseError:  # MOVED: another node's shard
            continue
        local.append(shard)
    return local


def check_connection(connection: AbstractConnection) -> None:
    """Fence a new connection, then let the outbox apply what its shards lack
    (caching.orm.outbox), all before its first command."""
    client.on_new_connection(connection, fence_connection(connection))


def connect_and_fence(connection: AbstractConnection) -> None:
    """A ``redis_connect_func`` for plain and Sentinel pools."""
    connection.on_connect()
    check_connection(connection)


def ensure(redis: Redis) -> int:
    """Fence through a client, now (tests do, after deleting every key)."""
    primaries = getattr(redis, "get_primaries", None)  # a RedisCluster
    nodes = [node.redis_connection for node in primaries()] if primaries else [redis]
    fenced = 0
    for node in nodes:
        replid = node.info("replication")["master_replid"]
        for shard in range(len(keys.roots())):
            try:
                fenced += int(node.execute_command(*_fence_args(shard, replid)))
            except ResponseError:  # MOVED: another node's shard
                continue
    return fenced


class _Fenced:
    def make_connection_params(self, url: str) -> dict[str, Any]:
        params = super().make_connection_params(url)  # type: ignore[misc]
        params["redis_connect_func"] = connect_and_fence
        return params


class FencedConnectionFactory(_Fenced, ConnectionFactory):
    """django-redis' factory, with the fence check on every new connection."""


class FencedSentinelConnectionFactory(_Fenced, SentinelConnectionFactory):
    """django-redis' Sentinel factory, with the fence check on new connections."""
