"""
Query parameters of cached endpoints, and their canonical forms.

A cached endpoint declares the parameters it reads; before a key is made each
is validated and put in the one form that can change the answer: a page size
above the cap is the cap, a minimum price of 5.001234 is 5.01 (prices have two
places), the default page is no page at all. Two requests that must get the
same answer get the same key; a hostile client cannot multiply keys with
spellings of one query (docs/contract.md §4.9, 4.12). Unknown parameters are dropped; a
parameter given twice is refused (the view would read only one of them).

The view then answers the canonical request (``caching.http.decorator`` replaces the
query string with it), so the body, pagination links included, is the same
with the cache on or off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

Canonical = Callable[[str], "str | None"]  # raises Invalid; None: as if absent


class Invalid(ValueError):
    """A parameter value the endpoint refuses (a 400 naming it)."""


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter an endpoint reads, and how to put it in canonical form."""

    name: str
    canonical: Canonical


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise Invalid("NUL characters are not allowed.")
    return value


def text(*, max_length: int = 8192) -> Canonical:
    """Any text without NUL characters; empty is as if absent."""

    def canonical(value: str) -> str | None:
        _no_nul(value)
        if len(value) > max_length:
            raise Invalid(f"Ensure this value has at most {max_length} characters.")
        return value or None

    return canonical


def integer(
    *,
    minimum: int = 1,
    cap: int | None = None,
    default: int | None = None,
    words: tuple[str, ...] = (),
) -> Canonical:
    """A whole number (ASCII digits) >= minimum, or one of words (a page may be
    "last"); above cap counts as cap; the default is as if absent."""

    def canonical(value: str) -> str | None:
        if value == "":
            return None
        if value in words:
            return value
        if not (value.isascii() and value.isdigit()) or len(value) > 18:
            raise Invalid(f"'{_shown(value)}' is not a whole number.")
        number = int(value)
        if number < minimum:
            raise Invalid(f"Must be {minimum} or more.")
        if cap is not None:
            number = min(number, cap)
        return None if number == default else str(number)

    return canonical


LIMIT = Decimal(10) ** 12


def decimal(*, places: int, low: Decimal, high: Decimal, round_up: bool) -> Canonical:
    """A decimal number between -10^12 and 10^12 with at most 12 decimal places
    (beyond, a database may overflow: a 400), put at the precision that can
    change the answer: compared with values of ``places`` places, a lower bound
    rounds up and an upper bound rounds down; values beyond [low, high] count as
    the nearest bound (they select nothing, or everything, either way)."""
    step = Decimal(1).scaleb(-places)

    def canonical(value: str) -> str | None:
        if value == "":
            return None
        try:  # Decimal alone would take "1_000" and non-ASCII digits
            number = Decimal(value) if value.isascii() and "_" not in value else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise Invalid("Enter a number.")
        exponent = number.normalize().as_tuple().exponent
        if abs(number) >= LIMIT or (isinstance(exponent, int) and exponent < -12):
            raise Invalid(
                "Enter a number between -10^12 and 10^12 with at most 12 decimal "
                "places."
            )
        number = min(max(number, low), high)  # before quantize: no huge exponents
        rounding = ROUND_CEILING if round_up else ROUND_FLOOR
        return str(number.quantize(step, rounding=rounding))

    return canonical


def choice(*values: str, default: str | None = None) -> Canonical:
    """One of values; the default is as if absent."""

    def canonical(value: str) -> str | None:
        if value == "":
            return None
        if value not in values:
            raise Invalid(
                f"'{_shown(value)}' is not one of: {', '.join(sorted(values))}."
            )
        return None if value == default else value

    return canonical


def ordering(
    *fields: str, default: str | None = None, tiebreak: str | None = None
) -> Canonical:
    """A comma-separated list of fields, each optionally prefixed with '-'. Its
    canonical form keeps what orders anything (``effective_ordering``), so
    ``price,price,...`` is one key, not one per repetition; the view must order
    by that form (it answers the canonical request)."""
    allowed = {*fields, *(f"-{name}" for name in fields)}

    def canonical(value: str) -> str | None:
        if value == "":
            return None
        parts = [part.strip() for part in value.split(",")]
        if not all(part in allowed for part in parts):
            raise Invalid(
                f"'{_shown(value)}' is not an ordering; use {', '.join(fields)}, "
                "each optionally prefixed with '-'."
            )
        joined = ",".join(effective_ordering(parts, tiebreak))
        return None if joined == default else joined

    return canonical


def effective_ordering(parts: Iterable[str], tiebreak: str | None = None) -> list[str]:
    """Return the fields of an ordering that order anything: each field's first
    mention (a later one, either way, breaks no tie) up to the tiebreak, a
    unique field the view orders by last, in the direction of the field before
    it (so a list ending with it that way is the list without it)."""
    kept: list[str] = []
    seen: set[str] = set()
    for part in parts:
        name = part.removeprefix("-")
        if name in seen:
            continue
        seen.add(name)
        kept.append(part)
        if name == tiebreak:
            break
    if (
        len(kept) > 1
        and kept[-1].removeprefix("-") == tiebreak
        and kept[-1].startswith("-") == kept[-2].startswith("-")
    ):
        kept.pop()
    return kept


def code(*, length: int) -> Canonical:
    """A code of ASCII letters (a currency), in upper case."""

    def canonical(value: str) -> str | None:
        value = value.strip()
        if len(value) != length or not (value.isascii() and value.isalpha()):
            raise Invalid(f"A {length}-letter code is required.")
        return value.upper()

    return canonical


def _shown(value: str, limit: int = 40) -> str:
    shown = value if len(value) <= limit else value[:limit] + "..."
    return shown.encode("unicode_escape").decode("ascii")


def canonical_query(
    params: Sequence[Param], query: Mapping[str, Any]
) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """Return the canonical (name, value) pairs of query, sorted, and the errors
    ({name: [message]}) of the declared parameters that are invalid."""
    pairs: list[tuple[str, str]] = []
    errors: dict[str, list[str]] = {}
    getlist = query.getlist  # type: ignore[attr-defined]  # a QueryDict
    for param in params:
        values: Iterable[str] = getlist(param.name)
        values = list(values)
        if not values:
            continue
        if len(values) > 1:
            errors[param.name] = [f"'{param.name}' is given more than once."]
            continue
        try:
            value = param.canonical(values[0])
        except Invalid as exc:
            errors[param.name] = [str(exc)]
            continue
        if value is not None:
            pairs.append((param.name, value))
    pairs.sort()
    return pairs, errors
