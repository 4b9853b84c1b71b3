"""
What a cached API response is: its key, its stored form, and which requests
may be answered with it. Shared by the decorator (caching.http.decorator) and
the hit path (caching.http.fastpath), so that both build the same key from the
same request.

A response is cached only in its canonical rendering: DRF's JSONRenderer with no
media-type parameter that changes the bytes (``indent``). Any other negotiated
variant (the browsable API, ``indent``, a media type DRF would refuse with a
406) is neither stored nor answered from the cache (docs/contract.md §4.11).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, Protocol

from django.http import Http404, HttpResponse, QueryDict
from django.utils.http import parse_header_parameters, quote_etag
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer

from caching.store import CacheStatus

JSON = "application/json"
# Every cached response is marked as varying on all that its key can vary on,
# so that no HTTP cache downstream shares a staff or owner view either.
VARY = "Accept, Authorization, Cookie"


class Caller(Protocol):
    """What vary functions and keys read of a request: DRF's Request, or the
    fast path's LightRequest (caching.http.fastpath), which has no DRF behind it."""

    @property
    def user(self) -> Any: ...
    @property
    def path(self) -> str: ...
    @property
    def query_params(self) -> QueryDict: ...
    @property
    def resolver_match(self) -> Any: ...


def canonical_querydict(pairs: Sequence[tuple[str, str]]) -> QueryDict:
    """Return pairs as an immutable QueryDict (what the view then reads)."""
    query = QueryDict(mutable=True)
    for name, value in pairs:
        query.appendlist(name, value)
    query._mutable = False
    return query


def is_canonical(renderer: BaseRenderer | None, media_type: str | None) -> bool:
    """Return whether DRF renders the stored form: plain JSONRenderer output."""
    if type(renderer) is not JSONRenderer:
        return False
    return "indent" not in parse_header_parameters(media_type or JSON)[1]


@lru_cache(maxsize=1024)
def negotiates_canonical(
    renderer_classes: tuple[type[BaseRenderer], ...], accept: str, fmt: str | None
) -> bool:
    """Return whether DRF's content negotiation, for this Accept header and
    ``?format=``, picks the canonical JSON rendering (else: the normal path,
    which may render HTML or answer 406)."""
    request: Any = SimpleNamespace(  # what select_renderer reads of a Request
        query_params={"format": fmt} if fmt is not None else {},
        headers={"accept": accept},
    )
    try:
        renderer, media_type = DefaultContentNegotiation().select_renderer(
            request, [cls() for cls in renderer_classes]
        )
    except (NotAcceptable, Http404):
        return False
    return is_canonical(renderer, media_type)


def etag_of(body: bytes) -> str:
    """Return the ETag of a body: Django's own (ConditionalGetMiddleware's
    md5 of the content), so an answer from the cache, from the view, or from a
    variant the cache bypasses carries the same ETag for the same bytes."""
    return quote_etag(hashlib.md5(body, usedforsecurity=False).hexdigest())


def pack(body: bytes, *, status: int = 200, content_type: str = JSON) -> bytes:
    """Return the stored form of a response: a one-line header (status, ETag,
    content type), then the body. The ETag is computed once, at the fill."""
    return f"{status} {etag_of(body)} {content_type}\n".encode() + body


def unpack(payload: bytes) -> HttpResponse:
    """Return the response stored by pack()."""
    header, _, body = payload.partition(b"\n")
    status, rest = header.decode().split(" ", 1)
    if rest.startswith('"'):
        etag, content_type = rest.split(" ", 1)
    else:  # an entry stored before entries carried their ETag
        etag, content_type = etag_of(body), rest
    response = HttpResponse(body, status=int(status), content_type=content_type)
    response["Content-Length"] = len(body)
    response["ETag"] = etag
    response["Vary"] = VARY
    return response


def group_of(request: Caller, view: Any) -> str:
    """Return the name hits and misses of this view are counted under."""
    match = request.resolver_match
    return f"api:{match.url_name if match else type(view).__name__}"


STATUS_ATTR = "_cache_status"  # on a Django request: what the cache did


def mark(request: Any, status: CacheStatus) -> None:
    """Record what the cache did for this request (for X-Cache on errors)."""
    setattr(getattr(request, "_request", request), STATUS_ATTR, status)


def marked(request: Any) -> CacheStatus:
    """Return what the cache did for this request (BYPASS if nothing)."""
    django_request = getattr(request, "_request", request)
    return getattr(django_request, STATUS_ATTR, CacheStatus.BYPASS)
