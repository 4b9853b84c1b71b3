"""
A third-party result cached in Redis: the seed's "API result caching", for an
upstream that is slow, rate-limited or failing.

    rates = Upstream(
        "rates",
        fetch=fetch_rates,                  # calls the upstream; raises on failure
        ttl=lambda: settings.RATES_TTL,     # fetched at most once per ttl
        dumps=Rates.to_json, loads=Rates.from_json,   # default: JSON values
    )
    rates.get()                             # cached, or fetched now

- Once per ``ttl`` across all processes: the first caller past the ttl takes a
  short lock and fetches; the others keep what they have, or, with nothing yet,
  wait for its result (single flight: a burst of first requests costs the
  upstream one fetch).
- Stale if error: while the upstream fails, the last value fetched is served
  (kept ``keep`` seconds, a week by default); with none at all,
  ``UpstreamUnavailable``.
- Responses that show the value depend on ``upstream.dependency``: it is
  invalidated when a fetch brings a different value, so they are never served
  with the old one.
- While Redis itself is away, the last value this process fetched is used.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from caching.orm import deps as dep
from caching.orm.invalidation import invalidate
from caching.store import Dep, client, keys

logger = logging.getLogger("caching")
T = TypeVar("T")


class UpstreamUnavailable(Exception):
    """The upstream failed and no value of it is cached."""


class Upstream(Generic[T]):
    """A cached third-party call with single flight and stale-if-error."""

    def __init__(
        self,
        name: str,
        *,
        fetch: Callable[[], T],
        ttl: float | Callable[[], float],
        dumps: Callable[[T], str] = json.dumps,
        loads: Callable[[str], T] = json.loads,
        keep: float = 7 * 86400,
        wait: float = 5.0,
        errors: tuple[type[BaseException], ...] = (Exception,),
    ) -> None:
        self.name = name
        self.fetch = fetch
        self.ttl = ttl
        self.dumps, self.loads = dumps, loads
        self.keep = keep
        self.wait = wait  # how long followers wait for the first fetch
        self.errors = errors  # what a failing fetch raises
        self._last: tuple[float, T] | None = None  # for when Redis is away

    @property
    def dependency(self) -> Dep:
        """What a response showing this value depends on."""
        return dep.table(self.name)

    def _ttl(self) -> float:
        return self.ttl() if callable(self.ttl) else self.ttl

    def _stored(self) -> tuple[float, T] | None:
        raw = client.run(lambda redis: redis.get(keys.upstream_key(self.name)))
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return float(data["fetched_at"]), self.loads(data["value"])
        except (ValueError, KeyError, TypeError):  # another format (an upgrade)
            return None

    def _store(self, fetched_at: float, value: T) -> None:
        payload = json.dumps({"fetched_at": fetched_at, "value": self.dumps(value)})
        client.run(
            lambda redis: redis.set(
                keys.upstream_key(self.name),
                payload,
                ex=int(max(self.keep, self._ttl())),
            )
        )

    def _lock(self) -> bool:
        return bool(
            client.run(
                lambda redis: redis.set(
                    keys.upstream_key(f"{self.name}:lock"),
                    "1",
                    nx=True,
                    ex=int(self.wait) + 5,
                )
            )
        )

    def _unlock(self) -> None:
        with contextlib.suppress(client.CacheUnavailable):
            client.run(
                lambda redis: redis.delete(keys.upstream_key(f"{self.name}:lock"))
            )

    def _wait_for_fetcher(self) -> T | None:
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                found = self._stored()
            except client.CacheUnavailable:
                return None
            if found is not None:
                return found[1]
        return None

    def get(self) -> T:
        """Return the value: cached, fetched at most once per ttl, stale while
        the upstream fails. Raises UpstreamUnavailable when there is none."""
        try:
            cached, cache_ok = self._stored(), True
        except client.CacheUnavailable:
            cached, cache_ok = self._last, False
        if cached is not None and time.time() - cached[0] < self._ttl():
            return cached[1]
        locked = cache_ok and self._lock()
        if cache_ok and not locked:  # another process is fetching
            if cached is not None:
                return cached[1]
            found = self._wait_for_fetcher()
            if found is None:
                raise UpstreamUnavailable(f"{self.name}: the fetcher got nothing")
            return found
        try:
            value = self.fetch()
        except self.errors as exc:
            logger.warning("upstream %s failed: %s", self.name, exc)
            if locked:
                self._unlock()
            if cached is not None:
                return cached[1]
            raise UpstreamUnavailable(f"{self.name}: {exc}") from exc
        now = time.time()
        self._last = (now, value)
        if cache_ok:
            with contextlib.suppress(client.CacheUnavailable):
                self._store(now, value)
                if cached is None or self.dumps(cached[1]) != self.dumps(value):
                    invalidate(self.name)
        if locked:
            self._unlock()  # the lock covers one fetch; the ttl spaces them
        return value
