"""
Stamped entries: the read, fill and invalidate primitives, each one Lua script.

Correctness rests on one clock. Every invalidation INCRs ``{prefix}:clock`` and
writes the new value into the version hash fields of what it changed
(``keys.py`` lists them). A reader that misses gets the clock value *before* it
queries the database (``asof``) and fills the entry with that ``asof`` and the
dependencies it found. An entry is served only while none of its dependencies
carries a stamp greater than its ``asof``: a write that committed after the
reader's snapshot necessarily bumped its stamp after ``asof`` was read, so the
reader's old rows can never be served (CONSISTENCY-NOTES I1, I12, I14). The fill
script checks the same condition, so a dead entry is not even written.

A hit is one EVALSHA; a miss is two (read with lease, fill).
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from redis import Redis
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import (
    ConnectionError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    TimeoutError,
)

from caching import client, codec, conf, keys, metrics

logger = logging.getLogger("caching")
T = TypeVar("T")
Dep = tuple[str, str]  # (model label, field): field is a pk, "#" or "*"
ScriptCall = tuple[str, list[str], list[Any]]  # (script source, keys, args)

# The clock starts from the server's time in microseconds, so that it never goes
# backwards across a Redis restart that lost it: an asof taken before the
# restart stays below every stamp written after it.
_CLOCK_INIT = """
local function clock_now(key)
  local now = redis.call('GET', key)
  if not now then
    local t = redis.call('TIME')
    now = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
    redis.call('SET', key, now, 'NX')
    now = redis.call('GET', key)
  end
  return now
end
-- own (optional): a stamp that counts as fresh, the writer's own (FILL_WRITTEN)
local function deps_fresh(vprefix, deps, asof, own)
  for label, field in string.gmatch(deps, '([^;|]+)|([^;]+)') do
    local stamp = redis.call('HGET', vprefix .. label, field)
    if stamp and stamp ~= own and tonumber(stamp) > asof then return false end
  end
  return true
end
"""

# KEYS: entry, lease, clock, stats, floor. ARGV: version prefix, lease token,
# lease ms, stats group ('' = do not count). Returns {1, payload, entry's asof,
# its deps} on a hit (asof and deps as stored: the payload's seal covers them),
# else {0, asof, is_leader}. Counting here keeps a hit at one round
# trip. The floor is set after a failover (caching.fence): entries filled before
# it are dead.
READ = (
    _CLOCK_INIT
    + """
local raw = redis.call('GET', KEYS[1])
if raw then
  local nl1 = string.find(raw, '\\n', 1, true)
  local nl2 = string.find(raw, '\\n', nl1 + 1, true)
  local asof = tonumber(string.sub(raw, 1, nl1 - 1))
  if asof >= tonumber(redis.call('GET', KEYS[5]) or 0)
     and deps_fresh(ARGV[1], string.sub(raw, nl1 + 1, nl2 - 1), asof) then
    if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[4], 'hit:' .. ARGV[4], 1) end
    return {1, string.sub(raw, nl2 + 1), string.sub(raw, 1, nl1 - 1),
            string.sub(raw, nl1 + 1, nl2 - 1)}
  end
end
if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[4], 'miss:' .. ARGV[4], 1) end
local now = clock_now(KEYS[3])
local leader = 0
if tonumber(ARGV[3]) > 0 then
  if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[3]) then leader = 1 end
end
return {0, now, leader}
"""
)

# KEYS: entry, lease, stats, floor. ARGV: version prefix, asof, deps, payload,
# ttl, token, stats group. Returns 1 when stored, 0 when a dependency changed
# after asof (a "fill conflict": the read overlapped a write) or asof is below
# the floor.
FILL = (
    _CLOCK_INIT
    + """
local stored = 0
local asof = tonumber(ARGV[2])
if asof >= tonumber(redis.call('GET', KEYS[4]) or 0)
   and deps_fresh(ARGV[1], ARGV[3], asof) then
  redis.call('SET', KEYS[1], ARGV[2] .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[4],
             'EX', ARGV[5])
  stored = 1
elseif ARGV[7] ~= '' then
  redis.call('HINCRBY', KEYS[3], 'conflict:' .. ARGV[7], 1)
end
if ARGV[6] ~= '' and redis.call('GET', KEYS[2]) == ARGV[6] then
  redis.call('DEL', KEYS[2])
end
return stored
"""
)

# KEYS: clock, stats, recent, then the changed objects' own entries in this
# shard (deleted: the seed's DEL). ARGV: version prefix, deps, count ('1': count
# the invalidation and keep it among the last 50 for the admin page, done in
# shard 0 only). Returns {the new clock, the greatest stamp it replaced on a
# row}: a write-through fill from the written row needs to know that no other
# write stamped the row since the row was read (FILL_WRITTEN).
INVALIDATE = (
    _CLOCK_INIT
    + """
clock_now(KEYS[1])
local now = redis.call('INCR', KEYS[1])
local seen = {}
local replaced = 0
for label, field in string.gmatch(ARGV[2], '([^;|]+)|([^;]+)') do
  if field ~= '#' and field ~= '*' then
    local old = tonumber(redis.call('HGET', ARGV[1] .. label, field) or 0)
    if old > replaced then replaced = old end
  end
  redis.call('HSET', ARGV[1] .. label, field, now)
  if ARGV[3] == '1' and not seen[label] then
    seen[label] = true
    redis.call('HINCRBY', KEYS[2], 'inval:' .. label, 1)
  end
end
if #KEYS > 3 then redis.call('UNLINK', unpack(KEYS, 4)) end
if ARGV[3] == '1' then
  local t = redis.call('TIME')
  redis.call('LPUSH', KEYS[3], t[1] .. ' ' .. string.sub(ARGV[2], 1, 200))
  redis.call('LTRIM', KEYS[3], 0, 49)
end
return {now, string.format('%.0f', replaced)}
"""
)

# KEYS: clock, floor, ticks. ARGV: horizon in microseconds. Compaction, step 1:
# record when the clock had its current value (ticks: clock value -> the first
# server time it was seen), then raise the floor to the clock value of the
# latest tick older than the horizon. An entry whose asof is below that value
# was read before that tick, so longer ago than the horizon (the longest TTL
# and a margin): the floor kills only entries that have expired. Returns the
# floor.
RAISE_FLOOR = (
    _CLOCK_INIT
    + """
local t = redis.call('TIME')
local wall = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[3], 'NX', string.format('%.0f', wall), clock_now(KEYS[1]))
local cutoff = string.format('%.0f', wall - tonumber(ARGV[1]))
local floor = tonumber(redis.call('GET', KEYS[2]) or 0)
local old = redis.call('ZREVRANGEBYSCORE', KEYS[3], cutoff, '-inf',
                       'WITHSCORES', 'LIMIT', 0, 1)
if #old == 0 then return string.format('%.0f', floor) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. old[2])
if tonumber(old[1]) > floor then
  floor = tonumber(old[1])
  redis.call('SET', KEYS[2], string.format('%.0f', floor))
end
return string.format('%.0f', floor)
"""
)

# KEYS: a stamp hash, floor. ARGV: fields. Compaction, step 2: drop the fields
# whose stamp is at most the floor. Every entry such a stamp voids has an asof
# below it, so below the floor: dead without it. Returns how many went.
COMPACT = """
local floor = tonumber(redis.call('GET', KEYS[2]) or 0)
local removed = 0
for i = 1, #ARGV do
  local stamp = redis.call('HGET', KEYS[1], ARGV[i])
  if stamp and tonumber(stamp) <= floor then
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
return removed
"""

# KEYS: entry, floor. ARGV: version prefix, base, own stamp, deps, payload, ttl.
# Write-through without reading the row back ("compare versions", I6): the value
# is a copy read as of base plus the writer's own change, stamped own. Stored as
# of own only if base is not below the floor and no dependency carries a stamp
# newer than base other than own. Returns 1 when stored.
FILL_WRITTEN = (
    _CLOCK_INIT
    + """
local base = tonumber(ARGV[2])
if base < tonumber(redis.call('GET', KEYS[2]) or 0)
   or not deps_fresh(ARGV[1], ARGV[4], base, ARGV[3]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3] .. '\\n' .. ARGV[4] .. '\\n' .. ARGV[5],
           'EX', ARGV[6])
return 1
"""
)

# KEYS: clock. Returns the clock (for write-through fills).
NOW = _CLOCK_INIT + "return clock_now(KEYS[1])"

# KEYS: lease. ARGV: token.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_scripts: dict[str, Script] = {}


def _script(redis: Redis | RedisCluster, source: str) -> Script:
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = redis.register_script(source)
    return script


class CacheStatus(StrEnum):
    HIT = "HIT"
    MISS = "MISS"
    BYPASS = "BYPASS"


@dataclass(frozen=True, slots=True)
class Fill:
    """What to store for a computed value: its bytes and what it depends on."""

    payload: bytes
    deps: Sequence[Dep]


@dataclass(slots=True)
class Lookup:
    hit: bool
    payload: bytes = b""
    asof: int = 0
    token: str = ""
    leader: bool = False


def encode_deps(deps: Iterable[Dep]) -> str:
    """Return deps in the wire form the scripts read ("label|field;...")."""
    return ";".join(sorted({f"{label}|{field}" for label, field in deps}))


def jittered(ttl: int | None) -> int:
    """Return ttl (default CACHE_TTL) spread by +/- the jitter fraction."""
    base = conf.default_ttl() if ttl is None else ttl
    spread = base * conf.ttl_jitter()
    return max(1, round(base + random.uniform(-spread, spread)))


def read(key: str, *, lease: bool = True, group: str = "") -> Lookup:
    """Read an entry; on a miss return the clock and try to take the fill lease.

    ``group`` (a model or an endpoint) is what the hit or miss is counted under.
    """
    token = secrets.token_hex(8) if lease else ""
    lease_ms = conf.lease_ms() if lease else 0
    shard = keys.shard_of(key)
    script_keys = [
        key,
        keys.lease_key(key),
        keys.clock_key(shard),
        keys.stats_key(shard),
        keys.floor_key(shard),
    ]
    args: list[Any] = [keys.version_prefix(shard), token or "-", lease_ms, group]

    def op(redis: Redis) -> list:
        return _script(redis, READ)(keys=script_keys, args=args, client=redis)

    reply = client.run(op, shard=shard)
    if reply[0] == 1:
        body = codec.unseal(key, reply[2].decode(), reply[3], reply[1])
        if body is not None:
            return Lookup(hit=True, payload=body, asof=int(reply[2]))
        # Not written by this app (or edited since): never served, never loaded.
        logger.warning("cache entry with a bad seal, dropped: %s", key)
        client.run(lambda redis: redis.delete(key), shard=shard)
        return read(key, lease=lease, group="")
    return Lookup(hit=False, asof=int(reply[1]), token=token, leader=bool(reply[2]))


def fill_args(
    key: str, asof: int, value: Fill, ttl: int | None, token: str, group: str
):
    """Return (keys, args) of the FILL script (for pipelines too)."""
    shard = keys.shard_of(key)
    wire = encode_deps(value.deps)
    return (
        [key, keys.lease_key(key), keys.stats_key(shard), keys.floor_key(shard)],
        [
            keys.version_prefix(shard),
            asof,
            wire,
            codec.seal(key, asof, wire, value.payload),
            jittered(ttl),
            token,
            group,
        ],
    )


def fill(
    key: str,
    asof: int,
    value: Fill,
    *,
    ttl: int | None,
    token: str = "",
    group: str = "",
) -> bool:
    """Store value unless a dependency was invalidated after asof."""
    script_keys, args = fill_args(key, asof, value, ttl, token, group)

    def op(redis: Redis) -> int:
        return _script(redis, FILL)(keys=script_keys, args=args, client=redis)

    return bool(client.run(op, shard=keys.shard_of(key)))


def pipelined(redis: Redis, calls: Sequence[ScriptCall]) -> list:
    """Run (script, keys, args) calls in one pipeline; results in call order.

    The calls must be safe to run twice (fills check their stamps, invalidations
    only raise them): after a NOSCRIPT the whole pipeline runs again.

    redis-py's cluster pipeline refuses scripts, so on a cluster the calls are
    grouped by the primary of their slot (each call's keys share one) and sent
    down one plain pipeline per node.
    """
    if isinstance(redis, RedisCluster):
        return _pipelined_per_node(redis, calls)

    def attempt() -> list:
        # EVALSHA queued by hand: a Script called on a pipeline makes execute()
        # send SCRIPT EXISTS first, one more round trip on every write.
        pipe = redis.pipeline(transaction=False)
        for source, script_keys, args in calls:
            sha = _script(redis, source).sha
            pipe.evalsha(sha, len(script_keys), *script_keys, *args)
        return pipe.execute()

    try:
        return attempt()
    except NoScriptError:  # a restarted or flushed server: load, run again
        for source in {source for source, _, _ in calls}:
            redis.script_load(source)
        return attempt()


def _pipelined_per_node(cluster: RedisCluster, calls: Sequence[ScriptCall]) -> list:
    by_node: dict[str, list[int]] = defaultdict(list)
    nodes = {}
    for index, (_, script_keys, _) in enumerate(calls):
        node = cluster.get_node_from_key(script_keys[0])
        nodes[node.name] = node
        by_node[node.name].append(index)
    results: list = [None] * len(calls)
    failed: list[int] = []
    cause: BaseException | None = None
    for name, indexes in by_node.items():
        try:
            values = pipelined(
                cluster.get_redis_connection(nodes[name]), [calls[i] for i in indexes]
            )
        except (RedisError, RedisClusterException) as exc:
            # A slot on the move, a primary that died, a cluster failing over
            # (CLUSTERDOWN): one by one through the cluster client, which
            # follows redirects and, a node being down, refreshes its slot map
            # (a promoted replica takes the slots). What still fails costs only
            # this node's shards: the others' calls go on.
            if isinstance(exc, ConnectionError | TimeoutError):
                client.refresh_slots(cluster)
            try:
                values = [
                    _script(cluster, calls[i][0])(
                        keys=calls[i][1], args=calls[i][2], client=cluster
                    )
                    for i in indexes
                ]
            except (RedisError, RedisClusterException) as again:
                failed += [keys.shard_of(calls[i][1][0]) for i in indexes]
                cause = again
                continue
        for index, value in zip(indexes, values, strict=True):
            results[index] = value
    if failed:  # the other nodes' calls were made: only these shards missed them
        raise client.ShardsUnavailable(failed, cause or RedisError())
    return results


def fill_many(
    entries: list[tuple[str, Fill]],
    asof: int | Sequence[int],
    *,
    ttl: int | None = None,
) -> int:
    """Store many entries in one pipelined round trip; return how many stored.

    ``asof`` is one clock value, or one per shard (``now_all()``).
    """
    calls = []
    for key, value in entries:
        stamp = asof if isinstance(asof, int) else asof[keys.shard_of(key)]
        calls.append((FILL, *fill_args(key, stamp, value, ttl, "", "")))
    return sum(client.run(lambda redis: pipelined(redis, calls))) if calls else 0


def release(key: str, token: str) -> None:
    """Give up a fill lease (the leader failed to compute)."""
    with contextlib.suppress(client.CacheUnavailable):  # else it expires by itself
        client.run(
            lambda redis: _script(redis, RELEASE)(
                keys=[keys.lease_key(key)], args=[token], client=redis
            ),
            shard=keys.shard_of(key),
        )


def now(shard: int = 0) -> int:
    """Return the invalidation clock of a shard (an asof for fills)."""
    return int(
        client.run(
            lambda redis: _script(redis, NOW)(
                keys=[keys.clock_key(shard)], client=redis
            ),
            shard=shard,
        )
    )


def now_all() -> list[int]:
    """Return every shard's clock, in one round trip per node."""
    count = len(keys.roots())
    if count == 1:
        return [now()]
    calls: list[ScriptCall] = [
        (NOW, [keys.clock_key(shard)], []) for shard in range(count)
    ]
    return [int(v) for v in client.run(lambda redis: pipelined(redis, calls))]


@dataclass(frozen=True, slots=True)
class Stamped:
    """What an invalidation did, per shard: its stamp, and the greatest stamp it
    replaced on a row (0 if none)."""

    stamps: list[int]
    replaced: list[int]


def invalidate_wire(
    redis: Redis,
    wire: str,
    owned: Iterable[str] = (),
    shards: Iterable[int] | None = None,
) -> Stamped:
    """Stamp the deps of wire ("label|field;...") with a new clock value, in
    every shard (or those given), and delete the entries in owned (the changed
    objects' own)."""
    if not wire:
        return Stamped([], [])
    by_shard: dict[int, list[str]] = defaultdict(list)
    for key in owned:
        by_shard[keys.shard_of(key)].append(key)
    targets = range(len(keys.roots())) if shards is None else sorted(shards)
    calls = [
        (
            INVALIDATE,
            [
                keys.clock_key(shard),
                keys.stats_key(shard),
                keys.recent_key(shard),
                *by_shard.get(shard, ()),
            ],
            [keys.version_prefix(shard), wire, "1" if shard == 0 else "0"],
        )
        for shard in targets
    ]
    if len(calls) == 1:
        _, script_keys, args = calls[0]
        replies = [
            _script(redis, INVALIDATE)(keys=script_keys, args=args, client=redis)
        ]
    else:
        replies = pipelined(redis, calls)
    return Stamped([int(r[0]) for r in replies], [int(r[1]) for r in replies])


def invalidate(
    deps: Iterable[Dep], *, owned: Iterable[str] = (), force: bool = False
) -> int:
    """Stamp deps, so entries filled before are not served, and delete the
    entries in owned; return the stamp."""
    wire = encode_deps(deps)
    owned = list(owned)
    stamped = client.run(lambda redis: invalidate_wire(redis, wire, owned), force=force)
    return stamped.stamps[0] if stamped.stamps else 0


def raise_floor(redis: Redis, shard: int, horizon_s: float) -> int:
    """Raise shard's floor to the clock of a tick older than horizon_s; return it."""
    return int(
        _script(redis, RAISE_FLOOR)(
            keys=[keys.clock_key(shard), keys.floor_key(shard), keys.ticks_key(shard)],
            args=[int(horizon_s * 1_000_000)],
            client=redis,
        )
    )


def compact_fields(redis: Redis, stamps_key: str, fields: Sequence[bytes]) -> int:
    """Drop the fields of a stamp hash that are below its shard's floor."""
    if not fields:
        return 0
    floor = keys.floor_key(keys.shard_of(stamps_key))
    return int(
        _script(redis, COMPACT)(
            keys=[stamps_key, floor], args=list(fields), client=redis
        )
    )


def fill_written(
    entries: list[tuple[str, Fill]], base: int, own: int, *, ttl: int | None = None
) -> bool:
    """Store entries built from a copy read as of base plus the caller's own
    write, which it stamped own; one pipelined round trip. Returns whether all
    were stored (else another write touched them since base: read back)."""
    calls: list[ScriptCall] = []
    for key, value in entries:
        shard = keys.shard_of(key)
        wire = encode_deps(value.deps)
        calls.append(
            (
                FILL_WRITTEN,
                [key, keys.floor_key(shard)],
                [
                    keys.version_prefix(shard),
                    base,
                    own,
                    wire,
                    codec.seal(key, own, wire, value.payload),
                    jittered(ttl),
                ],
            )  # fmt: skip
        )
    return all(client.run(lambda redis: pipelined(redis, calls)))


# Test hooks: called between the database read and the fill, to force the
# interleavings of CONSISTENCY-NOTES deterministically. Empty in production.
before_fill: list[Callable[[str], None]] = []


@dataclass(slots=True)
class Outcome(Generic[T]):
    value: T
    status: CacheStatus
    # The clock value the value is fresh as of (None: the cache was bypassed):
    # it reflects every write stamped at or before it.
    asof: int | None = None


def _wait_for_leader(key: str) -> Lookup:  # polls are not counted
    """Poll while another process fills key; bounded by CACHE_LEASE_WAIT_MS."""
    deadline = time.monotonic() + conf.lease_wait_ms() / 1000
    delay = 0.002
    lookup = Lookup(hit=False)
    while time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
        lookup = read(key)
        if lookup.hit or lookup.leader:
            return lookup
    return lookup


def fetch(
    key: str,
    compute: Callable[[], T],
    *,
    encode: Callable[[T], Fill | None],
    decode: Callable[[bytes], T],
    ttl: int | None = None,
    usable: bool = True,
    group: str = "",
    lookup: Lookup | None = None,
    computing: Callable[[CacheStatus], object] = lambda status: None,
) -> Outcome[T]:
    """Return the cached value of key, computing and filling it on a miss.

    One caller per missing key computes (the lease holder); the others wait a
    bounded time for its fill, then compute themselves rather than fail.
    ``lookup`` is a read of key already made for this request. ``computing``
    is told, before compute runs, whether this is a MISS or a BYPASS (compute
    may raise: a 404 still says what the cache did).
    """
    if not usable or not conf.enabled():
        metrics.bypass(group)
        computing(CacheStatus.BYPASS)
        return Outcome(compute(), CacheStatus.BYPASS)
    try:
        if lookup is None:  # else: read already (caching.fastpath)
            lookup = read(key, group=group)
        if not lookup.hit and not lookup.leader:
            lookup = _wait_for_leader(key)
    except client.CacheUnavailable:
        metrics.bypass(group)
        computing(CacheStatus.BYPASS)
        return Outcome(compute(), CacheStatus.BYPASS)
    if lookup.hit:
        logger.debug("cache event=hit key=%s group=%s", key, group)
        return Outcome(decode(lookup.payload), CacheStatus.HIT, lookup.asof)

    computing(CacheStatus.MISS)
    try:
        value = compute()
    except BaseException:
        if lookup.leader:
            release(key, lookup.token)
        raise
    stored = encode(value)
    for hook in before_fill:
        hook(key)
    try:
        # The naive mode stamps the fill after the read: the textbook race.
        asof = now(keys.shard_of(key)) if conf.naive_fill() else lookup.asof
        if stored is not None:
            filled = fill(key, asof, stored, ttl=ttl, token=lookup.token, group=group)
            logger.debug(
                "cache event=%s key=%s group=%s",
                "fill" if filled else "fill_conflict",
                key,
                group,
            )
        elif lookup.leader:
            release(key, lookup.token)
    except client.CacheUnavailable:
        pass
    return Outcome(value, CacheStatus.MISS, lookup.asof)
