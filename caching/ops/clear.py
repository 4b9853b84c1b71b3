"""
Removing this app's entries: SCAN and UNLINK under the prefix, never FLUSHDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from django.db import models

from caching.orm.invalidation import invalidate
from caching.store import keys
from caching.store.client import run


def scan(pattern: str) -> Iterator[bytes]:
    yield from run(lambda redis: list(redis.scan_iter(match=pattern, count=1000)))


def _unlink(names: list[bytes], redis: Any) -> int:
    return redis.unlink(*names)


def _delete(found: Iterable[bytes]) -> int:
    batch = list(found)
    deleted = 0
    for start in range(0, len(batch), 1000):
        deleted += run(partial(_unlink, batch[start : start + 1000]))
    return deleted


def clear(model: type[models.Model] | None = None) -> int:
    """Remove this app's entries (SCAN + UNLINK, never FLUSHDB); return how many.

    With a model: its entries stop being served at once (its stamps move), and
    its object and query entries are deleted. Without: every entry is deleted.
    The clock and the stamps stay: deleting them could let an entry filled
    concurrently with an older snapshot look fresh.
    """
    if model is not None:
        invalidate(model)
        return _delete(scan(keys.pattern(model)))
    entries = (k for k in scan(keys.pattern()) if not keys.is_control(k.decode()))
    return _delete(entries)
