"""
Stamped entries: read, fill and fetch (cache-aside with a lease).

Correctness rests on one clock per shard (caching.store.stamps). A reader that
misses gets the clock value *before* it queries the database (``asof``) and
fills the entry with that ``asof`` and the dependencies it found. An entry is
served only while none of its dependencies carries a stamp greater than its
``asof``: a write that committed after the reader's snapshot necessarily bumped
its stamp after ``asof`` was read, so the reader's old rows can never be served
(docs/consistency.md I1, I12, I14). The fill script checks the same condition,
so a dead entry is not even written. Every entry is sealed (caching.store.codec).

A hit is one round trip: the READ script, or for an entry this process has
read as a hit before, a reread (caching.store.rereads); a miss is two (read
with lease, fill).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from redis import Redis

from caching import conf, signals
from caching.store import client, codec, keys, metrics, rereads
from caching.store.pipeline import ScriptCall, pipelined
from caching.store.scripts import (
    FILL,
    FILL_WRITTEN,
    READ,
    READ_MANY,
    RELEASE,
    call,
    script,
)
from caching.store.stamps import Dep, encode_deps, now

logger = logging.getLogger("caching")
T = TypeVar("T")


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


def jittered(ttl: int | None) -> int:
    """Return ttl (default CACHING["TTL"]) spread by +/- the jitter fraction."""
    base = conf.default_ttl() if ttl is None else ttl
    spread = base * conf.ttl_jitter()
    return max(1, round(base + random.uniform(-spread, spread)))


class _Tokens:
    """Lease tokens: unique per reader, not secret (a lease only says who fills).
    A random prefix per process (new after a fork) and a counter: no call to the
    system's random source on every read, hits included."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = secrets.token_hex(6)
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter):x}"


_tokens = _Tokens()


def read(key: str, *, lease: bool = True, group: str = "") -> Lookup:
    """Read an entry; on a miss return the clock and try to take the fill lease.

    ``group`` (a model or an endpoint) is what the hit or miss is counted under.
    An entry this process has read as a hit before is reread without the
    script (caching.store.rereads); the READ script decides anything else.
    """
    shard = keys.shard_of(key)
    reread = rereads.find(key, group)
    if reread is not None:
        sent, parts = client.run(lambda redis: rereads.run(redis, reread), shard=shard)
        if parts is not None:
            return _found(key, shard, group, lease, _unsealed(key, *parts))
        if sent:  # not fresh: the script decides, and takes back the hit
            rereads.forget(key)
            return _read(key, shard, lease, group, counted=True)
    return _read(key, shard, lease, group, counted=False)


def _read(key: str, shard: int, lease: bool, group: str, *, counted: bool) -> Lookup:
    """Read an entry with the READ script; ``counted``: a hit was counted for
    this read already, to be taken back."""
    token = _tokens.next() if lease else ""
    lease_ms = conf.lease_ms() if lease else 0
    clock, stats, floor, version_prefix = keys.read_keys(shard)
    script_keys = [key, keys.lease_key(key), clock, stats, floor]
    args: list[Any] = [version_prefix, token or "-", lease_ms, group, int(counted)]

    def op(redis: Redis) -> list:
        return call(redis, READ, script_keys, args)

    reply = client.run(op, shard=shard)
    found = _lookup(key, reply, token)
    if found is not None and found.hit:
        rereads.remember(key, group, reply[1])
    return _found(key, shard, group, lease, found)


def _found(
    key: str, shard: int, group: str, lease: bool, found: Lookup | None
) -> Lookup:
    if found is None:  # a bad seal, dropped: read again, its hit taken back
        rereads.forget(key)
        return _read(key, shard, lease, group, counted=True)
    if signals.cache_read.receivers:
        signals.cache_read.send(read, key=key, group=group, hit=found.hit)
    return found


def _lookup(key: str, reply: list, token: str) -> Lookup | None:
    """Return the Lookup of a READ reply; None for an entry with a bad seal
    (not written by this app, or edited since: never served, never loaded),
    which is deleted."""
    if reply[0] != 1:
        return Lookup(hit=False, asof=int(reply[1]), token=token, leader=bool(reply[2]))
    return _unsealed(key, *reply[1].split(b"\n", 2))


def _unsealed(key: str, asof: bytes, deps: bytes, payload: bytes) -> Lookup | None:
    """Return the hit of an entry's parts; None for a bad seal (deleted)."""
    body = codec.unseal(key, asof.decode(), deps, payload)
    if body is None:
        logger.warning("cache entry with a bad seal, dropped: %s", key)
        client.run(lambda redis: redis.delete(key), shard=keys.shard_of(key))
        return None
    return Lookup(hit=True, payload=body, asof=int(asof))


def read_many(entry_keys: Sequence[str], *, group: str = "") -> list[Lookup]:
    """Read many entries in one round trip (one script call per shard), without
    leases (a caller missing some loads them all in one query). A miss carries
    the clock of its key's shard, taken before the caller queries: the asof of
    its fill."""
    by_shard: dict[int, list[str]] = {}
    for key in entry_keys:
        by_shard.setdefault(keys.shard_of(key), []).append(key)
    calls: list[ScriptCall] = [
        (
            READ_MANY,
            [
                keys.clock_key(shard),
                keys.stats_key(shard),
                keys.floor_key(shard),
                *shard_keys,
            ],
            [keys.version_prefix(shard), group],
        )  # fmt: skip
        for shard, shard_keys in by_shard.items()
    ]
    if not calls:
        return []
    replies = client.run(lambda redis: pipelined(redis, calls))
    lookups: dict[str, Lookup] = {}
    for shard_keys, (clock, *found) in zip(by_shard.values(), replies, strict=True):
        for key, reply in zip(shard_keys, found, strict=True):
            lookup = None
            if reply != 0:
                lookup = _lookup(key, [1, reply], "")
            if lookup is None:  # a miss, or a bad seal: a miss as of the clock
                asof = int(clock) if reply == 0 else now(keys.shard_of(key))
                lookup = Lookup(hit=False, asof=asof)
            lookups[key] = lookup
            if signals.cache_read.receivers:
                signals.cache_read.send(read, key=key, group=group, hit=lookup.hit)
    return [lookups[key] for key in entry_keys]


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
    if conf.naive_fill():  # the textbook race, stamped after the read: checker only
        asof = now(keys.shard_of(key))
    script_keys, args = fill_args(key, asof, value, ttl, token, group)

    def op(redis: Redis) -> int:
        return call(redis, FILL, script_keys, args)

    stored = bool(client.run(op, shard=keys.shard_of(key)))
    if signals.cache_filled.receivers:
        signals.cache_filled.send(fill, key=key, stored=stored, written=False)
    return stored


def fill_many(
    entries: list[tuple[str, Fill]],
    asof: int | Sequence[int] | dict[str, int],
    *,
    ttl: int | None = None,
    written: bool = True,
    group: str = "",
) -> int:
    """Store many entries in one pipelined round trip; return how many stored.

    ``asof`` is one clock value, one per shard (``now_all()``), or one per key
    (from ``read_many``). ``written``: a write-through refill, not a miss's.
    """
    calls = []
    for key, value in entries:
        if isinstance(asof, int):
            stamp = asof
        elif isinstance(asof, dict):
            stamp = asof[key]
        else:
            stamp = asof[keys.shard_of(key)]
        calls.append((FILL, *fill_args(key, stamp, value, ttl, "", group)))
    if not calls:
        return 0
    results = client.run(lambda redis: pipelined(redis, calls))
    if signals.cache_filled.receivers:
        for (key, _), stored in zip(entries, results, strict=True):
            signals.cache_filled.send(
                fill, key=key, stored=bool(stored), written=written
            )
    return sum(results)


def release(key: str, token: str) -> None:
    """Give up a fill lease (the leader failed to compute)."""
    with contextlib.suppress(client.CacheUnavailable):  # else it expires by itself
        client.run(
            lambda redis: script(redis, RELEASE)(
                keys=[keys.lease_key(key)], args=[token], client=redis
            ),
            shard=keys.shard_of(key),
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
    results = client.run(lambda redis: pipelined(redis, calls))
    if signals.cache_filled.receivers:
        for (key, _), stored in zip(entries, results, strict=True):
            signals.cache_filled.send(fill, key=key, stored=bool(stored), written=True)
    return all(results)


def fetch_many(
    entry_keys: Sequence[str],
    load: Callable[[list[str]], dict[str, T]],
    *,
    encode: Callable[[T], Fill | None],
    decode: Callable[[bytes], T],
    usable: bool = True,
    ttl: int | None = None,
    group: str = "",
) -> dict[str, T]:
    """Return {key: value} for entry_keys: one pipelined read of all of them;
    ``load`` computes the missing ones at once (one query), which are filled in
    one pipelined round trip, each as of the clock its own read returned (a
    write in between voids that entry's fill only). No leases: a caller
    missing some loads them all."""
    lookups: list[Lookup] | None = None
    if entry_keys and usable and conf.enabled():
        try:
            lookups = read_many(entry_keys, group=group)
        except client.CacheUnavailable:
            metrics.bypass(group)
    found: dict[str, T] = {}
    missing: dict[str, int | None] = {}  # key: the asof of its fill, if any
    for index, key in enumerate(entry_keys):
        lookup = lookups[index] if lookups is not None else None
        if lookup is not None and lookup.hit:
            found[key] = decode(lookup.payload)
        else:
            missing[key] = lookup.asof if lookup is not None else None
    if not missing:
        return found
    loaded = load(list(missing))
    found.update(loaded)
    fills: list[tuple[str, Fill]] = []
    asof: dict[str, int] = {}
    for key, value in loaded.items():
        stored = encode(value)
        read_asof = missing[key]
        if stored is None or read_asof is None:  # nothing to store, or bypassed
            continue
        fills.append((key, stored))
        asof[key] = read_asof
        for hook in before_fill:
            hook(key)
    with contextlib.suppress(client.CacheUnavailable):
        fill_many(fills, asof, ttl=ttl, written=False, group=group)
    return found


# Test hooks: called between the database read and the fill, to force the
# interleavings of docs/consistency.md deterministically. Empty in production.
before_fill: list[Callable[[str], None]] = []


@dataclass(slots=True)
class Outcome(Generic[T]):
    value: T
    status: CacheStatus
    # The clock value the value is fresh as of (None: the cache was bypassed):
    # it reflects every write stamped at or before it.
    asof: int | None = None


def _wait_for_leader(key: str) -> Lookup:  # polls are not counted
    """Poll while another process fills key; bounded by CACHING["LEASE_WAIT_MS"]."""
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
        if lookup is None:  # else: read already (caching.http.fastpath)
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
        if stored is not None:
            filled = fill(
                key, lookup.asof, stored, ttl=ttl, token=lookup.token, group=group
            )
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
