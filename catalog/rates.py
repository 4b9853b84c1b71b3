"""
Exchange rates from an ECB-format XML upstream (base EUR), cached in Redis with
the caching layer's Upstream: fetched at most once per RATES_TTL across all
processes (single flight), the last rates served with their own date while the
upstream fails, RatesUnavailable when there are none at all.
"""

from __future__ import annotations

import json
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

import httpx
from django.conf import settings

from caching import Upstream, UpstreamUnavailable


class RatesUnavailable(Exception):
    """No rates could be fetched and none are cached."""


@dataclass(frozen=True)
class Rates:
    date: str
    rates: dict[str, Decimal]

    def to_json(self) -> str:
        return json.dumps(
            {"date": self.date, "rates": {k: str(v) for k, v in self.rates.items()}}
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Rates:
        data = json.loads(raw)
        return cls(data["date"], {k: Decimal(v) for k, v in data["rates"].items()})


# An upstream's answer is input like any other: a document that is not plainly
# a day's rates is a failure (the last good rates are served), never a price.
MAX_DOCUMENT = 1_000_000  # bytes; the ECB's daily file is under 2 KB
LOWEST_RATE, HIGHEST_RATE = Decimal("0.000001"), Decimal(1_000_000)
RATE = re.compile(r"[0-9]{1,7}(\.[0-9]{1,12})?", re.ASCII)


def parse(xml: bytes) -> Rates:
    """Parse the ECB daily reference rates document; ValueError if it holds
    anything but a date and, per currency code, a positive finite rate."""
    root = ET.fromstring(xml)
    for cube in root.iter():
        if cube.tag.endswith("Cube") and "time" in cube.attrib:
            rates = {"EUR": Decimal(1)}
            for child in cube:
                rates[_currency(child.attrib["currency"])] = _rate(child.attrib["rate"])
            if len(rates) == 1:
                break
            return Rates(date.fromisoformat(cube.attrib["time"]).isoformat(), rates)
    raise ValueError("no dated Cube of rates in the document")


def _currency(code: str) -> str:
    if not (len(code) == 3 and code.isascii() and code.isalpha()):
        raise ValueError(f"not a currency code: {code[:20]!r}")
    return code.upper()


def _rate(text: str) -> Decimal:
    """A rate as the ECB writes one ("1.0825"): no sign, exponent or NaN."""
    if not RATE.fullmatch(text) or not (
        LOWEST_RATE <= (rate := Decimal(text)) <= HIGHEST_RATE
    ):
        raise ValueError(f"not a rate: {text[:40]!r}")
    return rate


def fetch() -> Rates:
    """Fetch and parse the upstream now: at most MAX_DOCUMENT bytes, and within
    RATES_TIMEOUT in all (httpx's timeout bounds each read, not a trickle)."""
    deadline = time.monotonic() + settings.RATES_TIMEOUT
    with httpx.stream(
        "GET", settings.RATES_URL, timeout=settings.RATES_TIMEOUT
    ) as response:
        response.raise_for_status()
        document = bytearray()
        for chunk in response.iter_bytes():
            document += chunk
            if len(document) > MAX_DOCUMENT:
                raise ValueError(f"rates document over {MAX_DOCUMENT} bytes")
            if time.monotonic() > deadline:
                raise ValueError(
                    f"rates document still coming after {settings.RATES_TIMEOUT} s"
                )
    return parse(bytes(document))


UPSTREAM = Upstream(
    "rates",
    fetch=fetch,
    ttl=lambda: settings.RATES_TTL,
    dumps=Rates.to_json,
    loads=Rates.from_json,
    wait=5.0,
    errors=(httpx.HTTPError, ET.ParseError, ValueError, KeyError, InvalidOperation),
)
RATES_DEP = UPSTREAM.dependency  # responses that show rates depend on it


def get_rates() -> Rates:
    """Return current rates: cached, refreshed once per RATES_TTL, stale on
    failure; RatesUnavailable when there are none at all."""
    try:
        return UPSTREAM.get()
    except UpstreamUnavailable as exc:
        raise RatesUnavailable(str(exc)) from exc
