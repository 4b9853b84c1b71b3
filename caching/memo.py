"""
Values a process keeps per key for at most a lifetime (a page's plan and
recipe, under its response key; an entry's reread): bounded (cleared when
full) and forgotten on any settings change.
"""

from __future__ import annotations

import time
from typing import Any, Generic, TypeVar

from django.core.signals import setting_changed

from caching import conf

T = TypeVar("T")


class Memo(Generic[T]):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: dict[str, tuple[float, T]] = {}
        setting_changed.connect(self._forget, weak=False)

    def get(self, key: str) -> T | None:
        """Return the value kept under key, unless its lifetime has passed."""
        found = self._kept.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: str, value: T, ttl: int | None) -> None:
        """Keep value for ttl seconds (None: CACHING["TTL"])."""
        if len(self._kept) >= self.limit:
            self._kept.clear()
        lifetime = conf.default_ttl() if ttl is None else ttl
        self._kept[key] = (time.monotonic() + lifetime, value)

    def discard(self, key: str) -> None:
        self._kept.pop(key, None)

    def forget(self) -> None:
        self._kept.clear()

    def __len__(self) -> int:
        return len(self._kept)

    def keys(self) -> list[str]:
        return list(self._kept)

    def _forget(self, **kwargs: Any) -> None:
        self.forget()
