"""
Every Redis key this app writes, built here and only here.

    {prefix}:clock                  monotonic invalidation clock (INCR)
    {prefix}:v:{app.model}          hash of invalidation stamps: "#" table, "*" all
                                    rows, "{pk}" one row
    {prefix}:o:{app.model}:{pk}     one object (get_cached)
    {prefix}:q:{app.model}:{hash}   one evaluated queryset (cached())
    {prefix}:r:{path}:{vary}:{qs}   one rendered API response
    {prefix}:x:{name}               API results of upstreams (exchange rates)
    {key}:lease                     the fill lease of an entry
    {prefix}:stats                  hash of counters: hit:/miss:/conflict:{group},
                                    inval:{app.model}
    {prefix}:recent                 the last 50 invalidations (admin page)

Parts that come from users (paths, query strings) are kept readable when short
and safe, and hashed otherwise, so a key never exceeds a few hundred bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from urllib.parse import urlencode

from django.db import models

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


def clock_key() -> str:
    return f"{conf.key_prefix()}:clock"


def stats_key() -> str:
    return f"{conf.key_prefix()}:stats"


def recent_key() -> str:
    return f"{conf.key_prefix()}:recent"


def version_prefix() -> str:
    return f"{conf.key_prefix()}:v:"


def version_key(model: type[models.Model] | str) -> str:
    return version_prefix() + label(model)


def object_key(model: type[models.Model], pk: object) -> str:
    return f"{conf.key_prefix()}:o:{label(model)}:{bounded(str(pk))}"


def query_key(model: type[models.Model], sql: str, params: Iterable[object]) -> str:
    return f"{conf.key_prefix()}:q:{label(model)}:{digest(sql + repr(tuple(params)))}"


def normalize_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Return the query string with its parameters in one canonical order."""
    return urlencode(sorted(pairs))


def response_key(path: str, vary: str = "", query: str = "") -> str:
    """Return the key of a rendered response to GET path?query as seen by vary."""
    return f"{conf.key_prefix()}:r:{bounded(path)}:{bounded(vary)}:{bounded(query)}"


def upstream_key(name: str) -> str:
    return f"{conf.key_prefix()}:x:{bounded(name)}"


def lease_key(key: str) -> str:
    return key + ":lease"


def pattern(model: type[models.Model] | None = None) -> str:
    """Return a SCAN pattern for this app's keys, or one model's entries."""
    prefix = conf.key_prefix()
    if model is None:
        return f"{prefix}:*"
    return f"{prefix}:[oq]:{label(model)}:*"
