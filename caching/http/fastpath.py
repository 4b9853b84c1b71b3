"""
Answer cache hits before the rest of the request stack runs.

``ServeCachedHits`` is a middleware placed high in ``MIDDLEWARE``: on a GET or
HEAD to a view method decorated with ``@cache_api_result`` it works out,
cheaply, who asks (anonymous, or a token looked up through the cache), whether
DRF's content negotiation would pick the canonical JSON rendering and what the
canonical query is, builds the same key the decorator would, and reads it. A
hit is returned as stored: no session, CSRF or messages middleware, no DRF
Request, authentication classes, permission checks, content negotiation,
queryset, serializer or renderer. Anything unusual (a session cookie, another
format or media type, an invalid parameter, a token the cache does not know)
goes the normal way, as does every miss; the miss's lookup (asof and lease) is
handed on to the decorator so the read is not repeated.

Safe because it only serves what the normal path stored under the same key, and
the key carries everything the response varies on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import Resolver404, ResolverMatch, get_urlconf, resolve

from caching import conf, store
from caching.http import auth
from caching.http.auth import ANONYMOUS, Identity
from caching.http.endpoint import ENDPOINT_ATTR
from caching.http.responses import group_of, negotiates_canonical, unpack
from caching.orm.invalidation import is_dirty
from caching.store import CacheStatus
from caching.store.client import CacheUnavailable

# Where a miss's lookup waits for the view: the WSGI environ (request.META),
# so the WSGI hit path can hand it on too.
LOOKUP_ATTR = "caching.lookup"


class LightRequest:
    """What vary functions and request_key read, without DRF's Request: vary
    functions see nothing else, so a key is a function of these alone."""

    def __init__(
        self, path: str, query: QueryDict, user: Identity, match: ResolverMatch
    ) -> None:
        self.user = user
        self.path = path
        self.query_params = query
        self.resolver_match = match


def identify(request: HttpRequest) -> Identity | None:
    """Return who asks, or None when only the normal path can tell."""
    return identify_by(request.META.get("HTTP_AUTHORIZATION"), request.COOKIES)


def identify_by(
    authorization: str | None, cookies: Mapping[str, str], *, cache_only: bool = False
) -> Identity | None:
    """Return who sends this Authorization header and these cookies, or None."""
    if authorization:
        kind, _, key = authorization.partition(" ")
        if kind.lower() != "token" or not (key.isascii() and key.isalnum()):
            return None
        return auth.token_identity(key, cache_only=cache_only)
    if settings.SESSION_COOKIE_NAME in cookies:
        return None  # a session user (browsable API, admin): the normal way
    return ANONYMOUS


def wants_canonical_json(request: HttpRequest, route: Route) -> bool:
    """Return whether DRF would render the stored form (else: the normal way)."""
    return negotiates_canonical(
        route.renderers,
        request.META.get("HTTP_ACCEPT", "*/*"),
        request.GET.get("format"),
    )


@dataclass(frozen=True, slots=True)
class Route:
    """A resolved GET route whose handler caches its responses."""

    match: ResolverMatch
    endpoint: Any  # caching.http.endpoint.Endpoint
    make_view: Callable[[], Any]
    allow: str  # the Allow header DRF would send
    renderers: tuple[type, ...]  # the view's renderer classes


@dataclass(frozen=True, slots=True)
class Handler:
    """What a view function's GET handler says, the same for all its paths."""

    view_class: Any
    actions: dict[str, str] | None  # viewsets: {"get": "retrieve", ...}
    action: str
    endpoint: Any  # caching.http.endpoint.Endpoint
    allow: str  # the Allow header DRF would send
    renderers: tuple[type, ...]  # the view's renderer classes


@lru_cache(maxsize=256)
def handler_of(func: Any) -> Handler | None:
    """Return the cached GET handler of a resolved view function, or None."""
    view_class: Any = getattr(func, "cls", None)
    actions = getattr(func, "actions", None)
    action = actions.get("get") if actions else "get"
    handler = getattr(view_class, action or "", None)
    endpoint = getattr(handler, ENDPOINT_ATTR, None)
    if endpoint is None:
        return None
    view = view_class(**getattr(func, "initkwargs", {}))
    for method, name in (actions or {}).items():  # as DRF's viewset view() does
        setattr(view, method, getattr(view, name))
    if not hasattr(view, "head"):  # as View.setup() does
        view.head = view.get
    allow = ", ".join(view.allowed_methods)
    return Handler(
        view_class, actions, action, endpoint, allow, tuple(view.renderer_classes)
    )


@lru_cache(maxsize=2048)
def cached_route(urlconf: str | None, path: str) -> Route | None:
    """Return the cacheable route of path, or None (resolved once per path)."""
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return None
    handler = handler_of(match.func)
    if handler is None:
        return None
    initkwargs = getattr(match.func, "initkwargs", {})

    def make_view() -> Any:
        view = handler.view_class(**initkwargs)
        if handler.actions:
            view.action_map, view.action = handler.actions, handler.action
        view.args, view.kwargs = match.args, match.kwargs
        return view

    return Route(match, handler.endpoint, make_view, handler.allow, handler.renderers)


@receiver(setting_changed)
def _forget_routes(*, setting: str, **kwargs: Any) -> None:
    if setting == "ROOT_URLCONF":
        cached_route.cache_clear()
        handler_of.cache_clear()


def serve_hit(request: HttpRequest) -> HttpResponse | None:
    """Return the cached response of this GET, or None to go the normal way
    (on a miss the lookup, asof and lease, is left on the request for the view)."""
    if not conf.enabled() or LOOKUP_ATTR in request.META:
        return None  # off, or read already (caching.http.wsgi): a miss, for the view
    route = cached_route(get_urlconf(), request.path_info)
    if route is None or is_dirty() or not wants_canonical_json(request, route):
        return None
    request.get_host()  # a disallowed host gets its 400, as on the normal path
    pairs, errors = route.endpoint.canonical(request.GET)
    if errors:
        return None  # the view answers its 400
    try:
        identity = identify(request)
        if identity is None:
            return None
        light = LightRequest(request.path, request.GET, identity, route.match)
        view = route.make_view()
        key = route.endpoint.request_key(light, view, pairs)
        lookup = store.read(key, group=group_of(light, view))
    except CacheUnavailable:
        return None
    if not lookup.hit:
        request.META[LOOKUP_ATTR] = (key, lookup)
        return None
    response = unpack(lookup.payload)
    response["X-Cache"] = CacheStatus.HIT.value
    response["Allow"] = route.allow
    response["Cache-Control"] = route.endpoint.cache_control
    return response


def handed_on(request: Any, key: str) -> store.Lookup | None:
    """Return the lookup the fast path made for key, if it made one."""
    meta = getattr(request, "_request", request).META
    found = meta.get(LOOKUP_ATTR)
    if found is not None and found[0] == key:
        del meta[LOOKUP_ATTR]
        return found[1]
    return None


class ServeCachedHits:
    """Middleware: cache hits are answered before the middleware below it and
    before URL resolution; everything else goes on down the stack."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        response = serve_hit(request)
        if response is not None:
            return response
        try:
            return self.get_response(request)
        finally:
            release_unused(request)


# Where ServeCachedHits stands in MIDDLEWARE decides what the WSGI level may
# answer (caching.http.wsgi: the middleware above it; details: below it).
HIT_PATH = f"{ServeCachedHits.__module__}.{ServeCachedHits.__qualname__}"


def around_hit_path() -> tuple[list[str], list[str]] | None:
    """Return the middleware above and below ServeCachedHits, or None if it is
    not in MIDDLEWARE."""
    middleware = list(settings.MIDDLEWARE)
    if HIT_PATH not in middleware:
        return None
    at = middleware.index(HIT_PATH)
    return middleware[:at], middleware[at + 1 :]


def release_unused(request: HttpRequest) -> None:
    """Give up the lease of a miss whose view never ran: DRF refused the
    request first (401, 403, 429). Held, it would keep every other reader of
    the key waiting for a fill that is not coming."""
    found = request.META.pop(LOOKUP_ATTR, None)
    if found is not None and found[1].leader:
        with contextlib.suppress(CacheUnavailable):
            store.release(found[0], found[1].token)
