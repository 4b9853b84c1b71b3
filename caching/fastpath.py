"""
Answer cache hits before the rest of the request stack runs.

``ServeCachedHits`` is a middleware placed high in ``MIDDLEWARE``: on a GET to a
view method decorated with ``@cache_api_result`` it works out, cheaply, who asks
(anonymous, or a token looked up through the cache) and whether JSON is wanted,
builds the same key the decorator would, and reads it. A hit is returned as
stored: no session, CSRF or messages middleware, no DRF Request, authentication
classes, permission checks, content negotiation, queryset, serializer or
renderer. Anything unusual (a session cookie, another format, a token the cache
does not know) goes the normal way, as does every miss; the miss's lookup (asof
and lease) is handed on to the decorator so the read is not repeated.

Safe because it only serves what the normal path stored under the same key, and
the key carries everything the response varies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, get_urlconf, resolve

from caching import auth, conf, store
from caching.auth import ANONYMOUS, Identity
from caching.client import CacheUnavailable
from caching.invalidation import is_dirty
from caching.store import CacheStatus

LOOKUP_ATTR = "_cache_lookup"


class LightRequest:
    """What vary functions and request_key read, without DRF's Request."""

    def __init__(
        self, request: HttpRequest, user: Identity, match: ResolverMatch
    ) -> None:
        self._request = request
        self.user = user
        self.path = request.path
        self.query_params = request.GET
        self.resolver_match = match
        self.scheme = request.scheme

    def get_host(self) -> str:
        return self._request.get_host()


def identify(request: HttpRequest) -> Identity | None:
    """Return who asks, or None when only the normal path can tell."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header:
        kind, _, key = header.partition(" ")
        if kind.lower() != "token" or not key or " " in key:
            return None
        return auth.token_identity(key)
    if settings.SESSION_COOKIE_NAME in request.COOKIES:
        return None  # a session user (browsable API, admin): the normal way
    return ANONYMOUS


def wants_json(request: HttpRequest) -> bool:
    """Return whether DRF would render JSON (else: the normal way)."""
    fmt = request.GET.get("format")
    if fmt is not None and fmt != "json":
        return False
    accept = request.META.get("HTTP_ACCEPT", "*/*")
    return "text/html" not in accept


@dataclass(frozen=True, slots=True)
class Route:
    """A resolved GET route whose handler caches its responses."""

    match: ResolverMatch
    config: Any  # caching.api.CacheConfig
    make_view: Callable[[], Any]
    allow: str  # the Allow header DRF would send


@lru_cache(maxsize=2048)
def cached_route(urlconf: str | None, path: str) -> Route | None:
    """Return the cacheable route of path, or None (resolved once per path)."""
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return None
    view_class: Any = getattr(match.func, "cls", None)
    actions = getattr(match.func, "actions", None)  # viewsets: {"get": "retrieve"}
    action = actions.get("get") if actions else "get"
    handler = getattr(view_class, action or "", None)
    config = getattr(handler, "cache_config", None)
    if config is None:
        return None
    initkwargs = getattr(match.func, "initkwargs", {})

    def make_view() -> Any:
        view = view_class(**initkwargs)
        if actions:
            view.action_map, view.action = actions, action
        view.args, view.kwargs = match.args, match.kwargs
        return view

    view = make_view()
    for method, name in (actions or {}).items():  # as DRF's viewset view() does
        setattr(view, method, getattr(view, name))
    if not hasattr(view, "head"):  # as View.setup() does
        view.head = view.get
    return Route(match, config, make_view, ", ".join(view.allowed_methods))


@receiver(setting_changed)
def _forget_routes(*, setting: str, **kwargs: Any) -> None:
    if setting == "ROOT_URLCONF":
        cached_route.cache_clear()


def serve_hit(request: HttpRequest) -> HttpResponse | None:
    """Return the cached response of this GET, or None to go the normal way."""
    from caching.api import endpoint, request_key, unpack

    if not conf.enabled():
        return None
    route = cached_route(get_urlconf(), request.path_info)
    if route is None or not wants_json(request) or is_dirty():
        return None
    request.get_host()  # a disallowed host gets its 400, as on the normal path
    try:
        identity = identify(request)
        if identity is None:
            return None
        light = LightRequest(request, identity, route.match)
        view = route.make_view()
        key = request_key(light, view, route.config.vary_on, route.config.only)
        lookup = store.read(key, group=endpoint(light, view))
    except CacheUnavailable:
        return None
    if not lookup.hit:
        setattr(request, LOOKUP_ATTR, (key, lookup))
        return None
    response = unpack(lookup.payload)
    response["X-Cache"] = CacheStatus.HIT.value
    response["Allow"] = route.allow
    return response


def handed_on(request: Any, key: str) -> store.Lookup | None:
    """Return the lookup the fast path made for key, if it made one."""
    django_request = getattr(request, "_request", request)
    found = getattr(django_request, LOOKUP_ATTR, None)
    if found is not None and found[0] == key:
        delattr(django_request, LOOKUP_ATTR)
        return found[1]
    return None


class ServeCachedHits:
    """Middleware: cache hits are answered before the middleware below it and
    before URL resolution; everything else goes on down the stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            response = serve_hit(request)
            if response is not None:
                return response
        return self.get_response(request)
