"""
Response caching for DRF views: ``@cache_api_result``.

The seed's Flask decorator, made correct: the key is the path, the declared
query parameters in canonical form (caching.params) and what the response
varies on (staff or not, the user, ...); only the canonical JSON rendering of a
``200`` to ``GET`` or ``HEAD`` is stored, with its status and content type; the
entry carries the dependencies of what it shows, so every write that changes it
makes it unservable. A hit is answered from the stored bytes: no queryset,
serializer or renderer runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import wraps
from typing import Any

from django.http import HttpResponse
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from caching import fastpath, keys, metrics, store
from caching.invalidation import is_dirty
from caching.params import Param
from caching.responses import (
    VARY,
    CacheConfig,
    Caller,
    Vary,
    canonical,
    canonical_querydict,
    endpoint,
    is_canonical,
    mark,
    marked,
    pack,
    request_key,
    unpack,
)
from caching.store import CacheStatus, Dep, Fill

DepsOf = Callable[[APIView, Response], Iterable[Dep]]
__all__ = ["CacheConfig", "Caller", "Vary", "cache_api_result", "CachedReadsMixin"]


def vary_staff(request: Caller, view: Any) -> str:
    """Vary on whether the user is staff (staff see inactive products)."""
    return "staff" if request.user.is_staff else "public"


def vary_user(request: Caller, view: Any) -> str:
    """Vary on the user (for responses that show a user's own data)."""
    user = request.user
    return f"u{user.pk}" if user.is_authenticated else "anon"


def response_fill(
    path: str, vary: str, body: bytes, deps: Iterable[Dep]
) -> tuple[str, Fill]:
    """Return (key, value) for a rendered JSON response, for write-through."""
    return keys.response_key(path, vary), Fill(pack(body), list(deps))


def cache_api_result(
    *,
    ttl: int | Callable[[], int] | None = None,
    vary_on: Sequence[Vary] = (),
    deps: DepsOf | None = None,
    query: Sequence[Param] = (),
) -> Callable:
    """Cache the rendered result of a DRF view method for GET requests.

    ``query`` declares the parameters the view reads, with their canonical
    forms; others are dropped, and an invalid one is a 400 that is not cached.
    ``deps(view, response)`` names what the response shows; by default the
    view's ``get_cache_dependencies(response)``. ``X-Cache`` says HIT, MISS or
    BYPASS.
    """
    config = CacheConfig(vary_on=tuple(vary_on), params=tuple(query))

    def decorator(method: Callable[..., Response]) -> Callable[..., Any]:
        @wraps(method)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any):
            if request.method not in ("GET", "HEAD") or not is_canonical(
                request.accepted_renderer, request.accepted_media_type
            ):
                metrics.bypass(endpoint(request, view))
                response = method(view, request, *args, **kwargs)
                response["X-Cache"] = CacheStatus.BYPASS.value
                return response
            pairs, errors = canonical(config, request.query_params)
            if errors:
                raise ValidationError(errors)
            # The view answers the canonical request: equal queries, equal bodies.
            request._request.GET = canonical_querydict(pairs)  # type: ignore[assignment]

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

            key = request_key(request, view, config, pairs)
            outcome: store.Outcome[HttpResponse] = store.fetch(
                key,
                lambda: method(view, request, *args, **kwargs),
                encode=encode,
                decode=unpack,
                ttl=ttl() if callable(ttl) else ttl,
                usable=not is_dirty(),
                group=endpoint(request, view),
                lookup=fastpath.handed_on(request, key),
                computing=lambda status: mark(request, status),
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
    object fetched (details) or the model (lists); every answer to a GET says
    what the cache did (X-Cache), errors included."""

    fetched_object = None

    def get_object(self):
        self.fetched_object = super().get_object()  # type: ignore[misc]
        return self.fetched_object

    def get_cache_dependencies(self, response) -> list[Dep]:
        from caching import deps as dep

        if self.fetched_object is not None:
            return dep.for_instance(self.fetched_object)
        return dep.for_models(self.get_queryset().model)  # type: ignore[attr-defined]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(  # type: ignore[misc]
            request, response, *args, **kwargs
        )
        if request.method in ("GET", "HEAD") and not response.has_header("X-Cache"):
            response["X-Cache"] = marked(request).value
        return response
