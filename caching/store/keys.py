"""
Every Redis key this app writes, built here and only here.

    {prefix}:clock                  monotonic invalidation clock (INCR)
    {prefix}:floor                  entries with an older asof are dead (fence.py)
    {prefix}:origin                 the server the floor was set for (fence.py)
    {prefix}:ticks                  clock values and when they were seen (compaction)
    {prefix}:v:{app.model}          hash of invalidation stamps: "#" table, "*" all
                                    rows, "{pk}" one row
    {prefix}:o:{app.model}:{pk}     one object (get_cached)
    {prefix}:q:{app.model}:{hash}   one evaluated queryset (cached())
    {prefix}:r:{path}:{vary}:{qs}   one rendered API response
    {prefix}:t:{digest of token}    an API token's user (caching.http.auth)
    {prefix}:x:{name}               API results of upstreams (exchange rates)
    {key}:lease                     the fill lease of an entry
    {prefix}:job:{name}             lock of a periodic job (compaction)
    {prefix}:l:{scope}:{digest}     a rate limit counter (project.throttling)
    {prefix}:stats                  hash of counters: hit:/miss:/conflict:{group},
                                    inval:{app.model}
    {prefix}:recent                 the last 50 invalidations (admin page)

Parts that come from users (paths, query strings) are kept readable when short
and safe, and hashed otherwise, so a key never exceeds a few hundred bytes.

Shards (Redis Cluster). Every Lua script touches an entry together with the
clock, stamps and counters it is checked against, so in a cluster they must
share a hash slot. With ``CACHING["SHARDS"]`` = N > 1 the keys are split into N
shards; shard i's keys all start with ``{prefix}:{i.j}``: the prefix first, as
for every key of this app, then the hash tag (the first ``{...}`` of a key is
its hash tag), j chosen so that shard i lands in the i-th Nth of the slot
space: the shards spread evenly over the primaries. An entry goes to the shard
its own name hashes to, so one hot model's entries are spread over every
primary; each shard keeps its own clock and a copy of the stamps, and an
invalidation stamps every shard.
With N = 1 (one Redis, Sentinel) the root is the bare prefix, as above.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlencode

from django.db import models
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from caching import conf

_SAFE = re.compile(r"^[A-Za-z0-9_.,=&/+\-]*$")
MAX_PART = 80


def digest(text: str) -> str:
    """Return a short, stable hash of text."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def bounded(part: str, limit: int = MAX_PART) -> str:
    """Return part itself when short and safe, else its hash."""
    if len(part) <= limit and _SAFE.match(part):
        return part
    return "h" + digest(part)


def label(model: type[models.Model] | str) -> str:
    """Return the lowercase app label of a model ("catalog.product")."""
    return model if isinstance(model, str) else model._meta.label_lower


@lru_cache(maxsize=8)
def _roots(prefix: str, count: int) -> tuple[str, ...]:
    if count == 1:
        return (prefix,)
    roots = []
    for shard in range(count):
        low = shard * REDIS_CLUSTER_HASH_SLOTS // count
        high = (shard + 1) * REDIS_CLUSTER_HASH_SLOTS // count
        n = 0
        while not low <= key_slot(f"{shard}.{n}".encode()) < high:
            n += 1
        roots.append(f"{prefix}:{{{shard}.{n}}}")
    return tuple(roots)


def roots() -> tuple[str, ...]:
    """Return the root of every shard's keys (one: the prefix itself)."""
    return _roots(conf.key_prefix(), conf.shards())


def shard_of(key: str) -> int:
    """Return the shard of a key built here."""
    start = key.find("{")
    if start < 0:
        return 0
    return int(key[start + 1 : key.index("}", start)].split(".", 1)[0])


def _entry(natural: str) -> str:
    all_roots = roots()
    if len(all_roots) == 1:
        return f"{all_roots[0]}:{natural}"
    return f"{all_roots[zlib.crc32(natural.encode()) % len(all_roots)]}:{natural}"


def clock_key(shard: int = 0) -> str:
    return f"{roots()[shard]}:clock"


def floor_key(shard: int = 0) -> str:
    return f"{roots()[shard]}:floor"


def origin_key(shard: int = 0) -> str:
    return f"{roots()[shard]}:origin"


def ticks_key(shard: int = 0) -> str:
    return f"{roots()[shard]}:ticks"


def stats_key(shard: int = 0) -> str:
    return f"{roots()[shard]}:stats"


def recent_key(shard: int = 0) -> str:
    return f"{roots()[shard]}:recent"


def version_prefix(shard: int = 0) -> str:
    return f"{roots()[shard]}:v:"


def read_keys(shard: int = 0) -> tuple[str, str, str, str]:
    """Return the clock, stats and floor keys and the version prefix of a
    shard: what every read of it names (worked out once per root)."""
    return _read_keys(roots()[shard])


@lru_cache(maxsize=64)
def _read_keys(root: str) -> tuple[str, str, str, str]:
    return f"{root}:clock", f"{root}:stats", f"{root}:floor", f"{root}:v:"


def version_key(model: type[models.Model] | str, shard: int = 0) -> str:
    return version_prefix(shard) + label(model)


_CONTROL = frozenset({"clock", "floor", "origin", "ticks", "stats", "recent"})


def is_control(key: str) -> bool:
    """Return whether key is a clock, floor, origin, stamp hash or counter."""
    for root in roots():
        if key.startswith(root + ":"):
            name = key[len(root) + 1 :]
            return name in _CONTROL or name.startswith("v:")
    return False


def pk_part(model: type[models.Model] | str, pk: object) -> str:
    """Return how a primary key appears in keys and stamps: as itself, or as a
    digest for models whose primary key is a secret (API tokens)."""
    text = str(pk)
    if label(model) in conf.secret_pk_models() or text[:1] in ("#", "*", "~"):
        return "h" + digest(text)  # "#...", "*" and "~" are the table's own fields
    return text


def object_key(model: type[models.Model], pk: object) -> str:
    return _entry(f"o:{label(model)}:{bounded(pk_part(model, pk))}")


def query_key(model: type[models.Model], sql: str, params: Iterable[object]) -> str:
    return _entry(f"q:{label(model)}:{digest(sql + repr(tuple(params)))}")


def normalize_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Return the query string with its parameters in one canonical order."""
    return urlencode(sorted(pairs))


def response_key(path: str, vary: str = "", query: str = "") -> str:
    """Return the key of a rendered response to GET path?query as seen by vary."""
    return _entry(f"r:{bounded(path)}:{bounded(vary)}:{bounded(query)}")


def token_key(token: str) -> str:
    """Return the key of an API token's entry: named by a digest, never the token."""
    return _entry(f"t:{digest(token)}")


def upstream_key(name: str) -> str:
    return _entry(f"x:{bounded(name)}")


def throttle_key(scope: str, ident: str) -> str:
    """Return the key of a rate counter: one per scope and caller."""
    return _entry(f"l:{bounded(scope)}:{digest(ident)}")


def job_key(name: str) -> str:
    """Return the key of a periodic job's lock (one runner among processes)."""
    return f"{roots()[0]}:job:{name}"


def lease_key(key: str) -> str:
    return key + ":lease"


def pattern(model: type[models.Model] | None = None) -> str:
    """Return a SCAN pattern for this app's keys, or one model's entries."""
    prefix = conf.key_prefix()
    if model is None:
        return f"{prefix}:*"
    root = prefix if conf.shards() == 1 else f"{prefix}:{{*}}"
    return f"{root}:[oq]:{label(model)}:*"
