"""
Invalidation stamps and the clock: what makes an entry unservable.

Every invalidation INCRs a shard's clock and writes the new value into the stamp
hash fields of what it changed (``{prefix}:v:{app.model}``: a row, "#" the
table, "*" all rows); it also deletes the changed objects' own entries. An entry
is served only while none of its dependencies carries a stamp greater than its
``asof`` (caching.store.entries). Compaction raises the floor, then drops old
stamp fields (caching.store.compaction).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from redis import Redis

from caching.store import client, keys
from caching.store.pipeline import ScriptCall, pipelined
from caching.store.scripts import COMPACT, INVALIDATE, NOW, RAISE_FLOOR, script

Dep = tuple[str, str]  # (model label, field): field is a pk, "#" or "*"


def encode_deps(deps: Iterable[Dep]) -> str:
    """Return deps in the wire form the scripts read ("label|field;...")."""
    return ";".join(sorted({f"{label}|{field}" for label, field in deps}))


def now(shard: int = 0) -> int:
    """Return the invalidation clock of a shard (an asof for fills)."""
    return int(
        client.run(
            lambda redis: script(redis, NOW)(
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
        replies = [script(redis, INVALIDATE)(keys=script_keys, args=args, client=redis)]
    else:
        replies = pipelined(redis, calls)
    return Stamped([int(r[0]) for r in replies], [int(r[1]) for r in replies])


def stamp(
    deps: Iterable[Dep], *, owned: Iterable[str] = (), force: bool = False
) -> int:
    """Stamp deps now, so entries filled before are not served, and delete the
    entries in owned; return the stamp. (The store's primitive: applications
    call caching.invalidate, which waits for the commit.)"""
    wire = encode_deps(deps)
    owned = list(owned)
    stamped = client.run(lambda redis: invalidate_wire(redis, wire, owned), force=force)
    return stamped.stamps[0] if stamped.stamps else 0


def raise_floor(redis: Redis, shard: int, horizon_s: float) -> int:
    """Raise shard's floor to the clock of a tick older than horizon_s; return it."""
    return int(
        script(redis, RAISE_FLOOR)(
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
        script(redis, COMPACT)(
            keys=[stamps_key, floor], args=list(fields), client=redis
        )
    )
