"""
Compaction: the stamp hashes stay proportional to the rows written recently.

Every row ever written leaves a field in its model's stamp hash (one copy per
shard); without compaction they grow forever. A field whose stamp is older than
every live entry can go, provided no entry it voids could become servable: so
each shard's floor is first raised to a clock value from before the horizon
(the longest TTL plus a margin; ``scripts.RAISE_FLOOR``), which makes every entry
read before it dead, and only fields below the floor are then removed
(``scripts.COMPACT``, which re-checks each field against the floor atomically).

Run by the outbox watcher of the server processes, at most once per
``CACHE_COMPACT_EVERY`` seconds across all of them (a lock key), and by
``manage.py cache_compact`` (for cron, where no server process runs).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from caching import conf
from caching.store import client, keys, stamps

logger = logging.getLogger("caching")
CHUNK = 500


@dataclass
class Compacted:
    removed: int = 0
    left: int = 0
    floors: list[int] = field(default_factory=list)


def compact(*, horizon: float | None = None) -> Compacted:
    """Drop stamp fields older than the horizon from every shard's hashes."""
    horizon = conf.compact_horizon() if horizon is None else horizon
    result = Compacted()
    for shard in range(len(keys.roots())):
        result.floors.append(
            client.run(partial(stamps.raise_floor, shard=shard, horizon_s=horizon))
        )
        pattern = keys.version_prefix(shard).replace("*", r"\*") + "*"
        for name in client.run(partial(_scan, pattern=pattern)):
            removed, left = _compact_hash(name.decode())
            result.removed += removed
            result.left += left
    if result.removed:
        logger.info("compacted %d stamp fields, %d left", result.removed, result.left)
    return result


def _scan(redis: Any, pattern: str) -> list[bytes]:
    return list(redis.scan_iter(match=pattern, count=1000))


def _hscan(redis: Any, name: str, cursor: int) -> tuple[int, dict]:
    return redis.hscan(name, cursor, count=CHUNK)


ENCODING_MARK = b"~"  # the field that keeps a stamp hash a hashtable (INVALIDATE)


def _compact_hash(name: str) -> tuple[int, int]:
    removed = left = 0
    cursor = 0
    while True:
        cursor, found = client.run(partial(_hscan, name=name, cursor=cursor))
        fields = [f for f in found if f != ENCODING_MARK]
        gone = client.run(
            partial(stamps.compact_fields, stamps_key=name, fields=fields)
        )
        removed += gone
        left += len(fields) - gone
        if cursor == 0:
            return removed, left


_last_run = 0.0


def maybe_run() -> bool:
    """Compact if this process's turn has come and no other process holds the
    job; True if it ran."""
    global _last_run
    every = conf.compact_every()
    if every <= 0 or time.monotonic() - _last_run < every:
        return False
    _last_run = time.monotonic()
    took = client.run(
        lambda redis: redis.set(
            keys.job_key("compact"), "1", nx=True, px=max(1, int(every * 1000))
        )
    )
    if not took:
        return False
    compact()
    return True
