"""
Exchange rates from an ECB-format XML upstream (base EUR), cached in Redis.

Fetched at most once per RATES_TTL across all processes: one fetcher holds a
short lock; the others keep serving the rates they have, or, when there are
none yet, wait for the fetcher's (single flight: a burst of first requests
costs the upstream one fetch). While the upstream
fails, the last rates fetched are served with their own date; with none at
all, RatesUnavailable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import httpx
from django.conf import settings

from caching import client, keys, store

logger = logging.getLogger("catalog.rates")
RATES_DEP = ("rates", "#")  # responses that show rates depend on it


class RatesUnavailable(Exception):
    """No rates could be fetched and none are cached."""


@dataclass(frozen=True)
class Rates:
    date: str
    rates: dict[str, Decimal]
    fetched_at: float

    def to_json(self) -> str:
        return json.dumps(
            {
                "date": self.date,
                "rates": {k: str(v) for k, v in self.rates.items()},
                "fetched_at": self.fetched_at,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Rates:
        data = json.loads(raw)
        return cls(
            data["date"],
            {k: Decimal(v) for k, v in data["rates"].items()},
            data["fetched_at"],
        )


_last_known: Rates | None = None  # for when Redis itself is unavailable


def parse(xml: bytes) -> Rates:
    """Parse the ECB daily reference rates document."""
    root = ET.fromstring(xml)
    for cube in root.iter():
        if cube.tag.endswith("Cube") and "time" in cube.attrib:
            rates = {"EUR": Decimal(1)}
            for child in cube:
                rates[child.attrib["currency"].upper()] = Decimal(child.attrib["rate"])
            if len(rates) == 1:
                break
            return Rates(cube.attrib["time"], rates, time.time())
    raise ValueError("no dated Cube of rates in the document")


def fetch() -> Rates:
    """Fetch and parse the upstream now."""
    response = httpx.get(settings.RATES_URL, timeout=settings.RATES_TIMEOUT)
    response.raise_for_status()
    return parse(response.content)


def _stored() -> Rates | None:
    raw = client.run(lambda redis: redis.get(keys.upstream_key("rates")))
    return Rates.from_json(raw) if raw else None


def _store(rates: Rates, previous: Rates | None) -> None:
    def op(redis):
        # Kept well past RATES_TTL: stale rates beat no rates while the upstream fails.
        redis.set(
            keys.upstream_key("rates"),
            rates.to_json(),
            ex=max(86400 * 7, settings.RATES_TTL),
        )

    client.run(op)
    if previous is None or previous.rates != rates.rates or previous.date != rates.date:
        store.invalidate([RATES_DEP])


def _try_lock() -> bool:
    return bool(
        client.run(
            lambda redis: redis.set(
                keys.upstream_key("rates:lock"), "1", nx=True, ex=10
            )
        )
    )


def _unlock() -> None:
    with contextlib.suppress(client.CacheUnavailable):
        client.run(lambda redis: redis.delete(keys.upstream_key("rates:lock")))


def _wait_for_fetcher() -> Rates | None:
    """Wait for the process holding the lock to store rates (no rates yet)."""
    deadline = time.monotonic() + settings.RATES_TIMEOUT + 0.5
    while time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            found = _stored()
        except client.CacheUnavailable:
            return None
        if found is not None:
            return found
    return None


def get_rates() -> Rates:
    """Return current rates: cached, refreshed once per RATES_TTL, stale on failure."""
    global _last_known
    try:
        cached = _stored()
        cache_ok = True
    except client.CacheUnavailable:
        cached, cache_ok = _last_known, False
    fresh = cached is not None and time.time() - cached.fetched_at < settings.RATES_TTL
    if fresh:
        return cached
    locked = cache_ok and _try_lock()
    if cache_ok and not locked:  # another process is fetching: one fetch in all
        if cached is not None:
            return cached
        found = _wait_for_fetcher()
        if found is None:
            raise RatesUnavailable("the upstream did not answer the fetcher")
        return found
    try:
        rates = fetch()
    except (
        httpx.HTTPError,
        ET.ParseError,
        ValueError,
        KeyError,
        InvalidOperation,
    ) as exc:
        logger.warning("rates upstream failed: %s", exc)
        if locked:
            _unlock()
        if cached is not None:
            return cached
        raise RatesUnavailable(str(exc)) from exc
    _last_known = rates
    if cache_ok:
        with contextlib.suppress(client.CacheUnavailable):
            _store(rates, cached)
    if locked:
        _unlock()  # the lock covers one fetch; RATES_TTL spaces them
    return rates
