"""
Exchange rates from an ECB-format XML upstream (base EUR), cached in Redis with
the caching layer's Upstream: fetched at most once per RATES_TTL across all
processes (single flight), the last rates served with their own date while the
upstream fails, RatesUnavailable when there are none at all.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
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
            return Rates(cube.attrib["time"], rates)
    raise ValueError("no dated Cube of rates in the document")


def fetch() -> Rates:
    """Fetch and parse the upstream now."""
    response = httpx.get(settings.RATES_URL, timeout=settings.RATES_TIMEOUT)
    response.raise_for_status()
    return parse(response.content)


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
