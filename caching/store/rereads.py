"""
Rereads: a hit checked with Redis's own commands instead of the READ script.

For a product detail the READ script makes seven calls from Lua (the entry,
four stamp hashes, the floor, the hit counter), and each costs the server far
more from Lua than sent as a command: the script is about half of what a hit
costs Redis (bench/results, "rereads"). Once this process has read an entry as
a hit, it knows the entry's dependencies; its next read of that key (a reread)
sends the same reads as one MULTI/EXEC, packed once and kept here for an
entry's lifetime: the entry, the stamps of those dependencies, the floor, and
the counter. The transaction sees one instant, as the script does, and this
process makes the script's decision: the entry is served only if it still
names the dependencies whose stamps were read, its asof is not below the floor
and none of those stamps is newer than its asof. Anything else (the entry gone,
refilled with other dependencies, or stale) is not served: the caller runs the
READ script, which takes the fill lease as before and takes back the hit the
transaction counted. So such a miss costs one round trip more than a miss read
by the script alone; a fill leaves no reread for that reason (the next write
would make it such a miss: W6's pages, invalidated every few reads).

Only on the connection a thread keeps for itself (caching.store.client.direct:
one Redis or Sentinel, not a cluster) and with hiredis, which packs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.connection import HIREDIS_AVAILABLE

from caching.memo import Memo
from caching.store import client, keys

if HIREDIS_AVAILABLE:
    from hiredis import pack_command

# A worker meets a few thousand keys in a Zipf workload over 10,000 products;
# a reread is a few hundred bytes.
MAX_KEPT = 16_384


@dataclass(frozen=True, slots=True)
class Reread:
    """The packed transaction that reads one entry and what it is checked
    against, for the entry's dependencies as this process last saw them."""

    group: str
    deps: bytes
    labels: int  # how many stamp hashes (HMGET replies) follow the entry
    packed: bytes
    replies: int  # MULTI's, one QUEUED per command, EXEC's


_kept: Memo[Reread] = Memo(MAX_KEPT)


def find(key: str, group: str) -> Reread | None:
    """Return the reread of key, counted under group, if there is one."""
    found = _kept.get(key)
    return found if found is not None and found.group == group else None


def remember(key: str, group: str, entry: bytes) -> None:
    """Keep a reread for the next read of key, from its entry as stored
    ("asof\\ndeps\\npayload"), just read as a hit."""
    if not HIREDIS_AVAILABLE or not client.keeps_own():
        return  # it could not be sent
    deps = entry.split(b"\n", 2)[1]
    fields: dict[bytes, list[bytes]] = {}
    for dep in deps.split(b";") if deps else ():
        label, _, field = dep.partition(b"|")
        fields.setdefault(label, []).append(field)
    shard = keys.shard_of(key)
    _, stats, floor, version_prefix = keys.read_keys(shard)
    prefix = version_prefix.encode()
    commands: list[tuple[Any, ...]] = [("GET", key)]
    commands += [("HMGET", prefix + label, *each) for label, each in fields.items()]
    commands.append(("GET", floor))
    if group:
        commands.append(("HINCRBY", stats, f"hit:{group}", 1))
    packed = b"".join(
        pack_command(command) for command in [("MULTI",), *commands, ("EXEC",)]
    )
    _kept.put(key, Reread(group, deps, len(fields), packed, len(commands) + 2), None)


def forget(key: str) -> None:
    _kept.discard(key)


Parts = tuple[bytes, bytes, bytes]  # an entry as stored: asof, deps, payload


def run(redis: Any, reread: Reread) -> tuple[bool, Parts | None]:
    """Send a reread; return whether it was sent (there is an own connection) and
    the entry's parts if it is fresh, else None (the hit it counted is to be
    taken back)."""
    replies = client.direct_packed(redis, reread.packed, reread.replies)
    if replies is None:
        return False, None
    results = replies[-1]
    for result in results:
        if isinstance(result, Exception):  # inside EXEC's reply: raised as a reply
            raise result
    return True, fresh(reread, results)


def fresh(reread: Reread, results: list) -> Parts | None:
    """Return the parts of the entry EXEC read if the READ script would serve
    it, else None (the script then decides, junk included)."""
    entry = results[0]
    if entry is None:
        return None
    try:
        stored_asof, deps, payload = entry.split(b"\n", 2)
        if deps != reread.deps:
            return None  # refilled with other dependencies: not theirs read
        asof = int(stored_asof)
        floor = results[reread.labels + 1]
        if floor is not None and asof < int(floor):
            return None
        for stamps in results[1 : reread.labels + 1]:
            for stamp in stamps:
                if stamp is not None and int(stamp) > asof:
                    return None
    except ValueError:  # not as the app writes entries, floors and stamps
        return None
    return stored_asof, deps, payload


def forget_all() -> None:
    _kept.forget()
