"""
Response caching for DRF views: ``@cache_api_result``.

The seed's Flask decorator, made correct: the key is the path, the query
parameters in canonical order and what the response varies on (staff or not,
the user, ...); only rendered JSON ``200`` responses to ``GET`` are stored, with
their status and content type; the entry carries the dependencies of what it
shows, so every write that changes it makes it unservable. A hit is answered
from the stored bytes: no queryset, serializer or renderer runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any, Protocol

from django.http import HttpResponse, QueryDict
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from caching import fastpath, keys, metrics, store
from caching.invalidation import is_dirty
from caching.store import CacheStatus, Dep, Fill


class Caller(Protocol):
    """What vary functions and keys read of a request: DRF's Request, or the
    fast path's LightRequest (caching.fastpath), which has no DRF behind it."""

    @property
    def user(self) -> Any: ...
    @property
    def path(self) -> str: ...
    @property
    def query_params(self) -> QueryDict: ...
    @property
    def scheme(self) -> str | None: ...
    @property
    def resolver_match(self) -> Any: ...
    def get_host(self) -> str: ...


Vary = Callable[[Caller, Any], str]  # (request, view) -> the vary part of a key
DepsOf = Callable[[APIView, Response], Iterable[Dep]]
JSON = "application/json"
# Every cached response is marked as varying on all that its key can vary on,
# so that no HTTP cache downstream shares a staff or owner view either.
VARY = "Accept, Authorization, Cookie"


def vary_staff(request: Caller, view: Any) -> str:
    """Vary on whether the user is staff (staff see inactive products)."""
    return "staff" if request.user.is_staff else "public"


def vary_host(request: Caller, view: Any) -> str:
    """Vary on scheme and host (paginated lists embed absolute next/previous links)."""
    return f"{request.scheme}://{request.get_host()}"


def vary_user(request: Caller, view: Any) -> str:
    """Vary on the user (for responses that show a user's own data)."""
    user = request.user
    return f"u{user.pk}" if user.is_authenticated else "anon"


def request_key(
    request: Caller,
    view: Any,
    vary_on: Sequence[Vary],
    query: frozenset[str] | None = None,
) -> str:
    """Return the cache key of a GET request as seen by this user.

    With ``query`` given, other parameters (which the view ignores) are left out
    so that they cannot multiply the entries.
    """
    pairs = [
        (name, value)
        for name, values in request.query_params.lists()
        if name != "format" and (query is None or name in query)
        for value in values
    ]
    vary = "-".join(v(request, view) for v in vary_on)
    return keys.response_key(request.path, vary, keys.normalize_query(pairs))


def pack(body: bytes, *, status: int = 200, content_type: str = JSON) -> bytes:
    """Return the stored form of a response: a one-line header, then the body."""
    return f"{status} {content_type}\n".encode() + body


def unpack(payload: bytes) -> HttpResponse:
    """Return the response stored by pack()."""
    header, _, body = payload.partition(b"\n")
    status, content_type = header.decode().split(" ", 1)
    response = HttpResponse(body, status=int(status), content_type=content_type)
    response["Content-Length"] = len(body)
    response["Vary"] = VARY
    return response


def response_fill(
    path: str, vary: str, body: bytes, deps: Iterable[Dep]
) -> tuple[str, Fill]:
    """Return (key, value) for a rendered JSON response, for write-through."""
    return keys.response_key(path, vary), Fill(pack(body), list(deps))


def endpoint(request: Caller, view: Any) -> str:
    """Return the name hits and misses of this view are counted under."""
    match = request.resolver_match
    return f"api:{match.url_name if match else type(view).__name__}"


def _is_json(request: Request) -> bool:
    renderer = getattr(request, "accepted_renderer", None)
    return renderer is not None and renderer.format == "json"


@dataclass(frozen=True)
class CacheConfig:
    vary_on: tuple[Vary, ...]
    only: frozenset[str] | None


def cache_api_result(
    *,
    ttl: int | Callable[[], int] | None = None,
    vary_on: Sequence[Vary] = (),
    deps: DepsOf | None = None,
    query: Iterable[str] | None = None,
) -> Callable:
    """Cache the rendered result of a DRF view method for GET requests.

    ``deps(view, response)`` names what the response shows; by default the view's
    ``get_cache_dependencies(response)``. ``query`` lists the parameters the view
    reads (default: all). ``X-Cache`` says HIT, MISS or BYPASS.
    """
    config = CacheConfig(
        vary_on=tuple(vary_on), only=None if query is None else frozenset(query)
    )
    only = config.only

    def decorator(method: Callable[..., Response]) -> Callable[..., Any]:
        @wraps(method)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any):
            if request.method != "GET" or not _is_json(request):
                metrics.bypass(endpoint(request, view))
                response = method(view, request, *args, **kwargs)
                response["X-Cache"] = CacheStatus.BYPASS.value
                return response

            def encode(response: Any) -> Fill | None:  # the view's Response
                if response.status_code != 200 or getattr(response, "exception", False):
                    return None
                response = view.finalize_response(request, response, *args, **kwargs)
                response.render()
                depends = (
                    deps(view, response)
                    if deps
                    else view.get_cache_dependencies(response)
                )
                return Fill(
                    pack(response.content, content_type=response["Content-Type"]),
                    list(depends),
                )

            key = request_key(request, view, vary_on, only)
            outcome: store.Outcome[HttpResponse] = store.fetch(
                key,
                lambda: method(view, request, *args, **kwargs),
                encode=encode,
                decode=unpack,
                ttl=ttl() if callable(ttl) else ttl,
                usable=not is_dirty(),
                group=endpoint(request, view),
                lookup=fastpath.handed_on(request, key),
            )
            answer = outcome.value
            answer["X-Cache"] = outcome.status.value
            answer["Vary"] = VARY
            return answer

        wrapper.cache_config = config  # type: ignore[attr-defined]  # fastpath reads it
        return wrapper

    return decorator


class CachedReadsMixin:
    """A view whose reads use ``@cache_api_result``: dependencies taken from the
    object fetched (details) or the model (lists)."""

    fetched_object = None

    def get_object(self):
        self.fetched_object = super().get_object()  # type: ignore[misc]
        return self.fetched_object

    def get_cache_dependencies(self, response) -> list[Dep]:
        from caching import deps as dep

        if self.fetched_object is not None:
            return dep.for_instance(self.fetched_object)
        return dep.for_models(self.get_queryset().model)  # type: ignore[attr-defined]
