"""
The Redis side of the cache, and nothing else: keys, the Lua scripts, stamped
entries (read, fill, fetch), invalidation stamps, the client and its circuit
breakers, the fence against failovers, the cluster and Sentinel topology, the
embedded server, the seal on every entry, compaction and the memory policy.

Nothing here imports the ORM side (caching.orm) or the HTTP side (caching.http).
"""

from caching.store.entries import (
    CacheStatus,
    Fill,
    Lookup,
    Outcome,
    before_fill,
    fetch,
    fetch_many,
    fill,
    fill_many,
    fill_written,
    jittered,
    read,
    read_many,
    release,
)
from caching.store.pipeline import ScriptCall, pipelined
from caching.store.stamps import (
    Dep,
    Stamped,
    encode_deps,
    invalidate_wire,
    now,
    now_all,
    stamp,
)

__all__ = [
    "CacheStatus",
    "Dep",
    "Fill",
    "Lookup",
    "Outcome",
    "ScriptCall",
    "Stamped",
    "before_fill",
    "encode_deps",
    "fetch",
    "fetch_many",
    "fill",
    "fill_many",
    "fill_written",
    "invalidate_wire",
    "jittered",
    "now",
    "now_all",
    "pipelined",
    "read",
    "read_many",
    "release",
    "stamp",
]
