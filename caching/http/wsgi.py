"""
The WSGI side of the caching layer: wrap the project's application with it.

    django.setup(set_prefix=False)  # what get_wsgi_application() does
    application = caching.http.wsgi.CachedApplication(DjangoHandler())

It answers cache hits before Django's handler runs: no request signals, no
middleware chain, no response object. What the middleware above the hit path
would have done to a hit is done here to the same effect (tested header for
header against the Django path, tests/integration/test_wsgi_hits.py):

- ``ALLOWED_HOSTS``: a host Django would refuse goes to Django, which answers 400;
- ``SECURE_SSL_REDIRECT``: a plain-HTTP request goes to Django, which redirects;
- SecurityMiddleware's and XFrameOptionsMiddleware's headers (HSTS included,
  on secure requests) are what those middlewares add to an empty response,
  worked out once per settings;
- ``If-None-Match`` gets the 304 ``caching.http.conditional.ConditionalGet``
  sends, with the same headers;
- metrics: the hit is counted in process and flushed to Prometheus once a second
  (caching.store.metrics.FastResponses), not through a per-request middleware.

A miss of a list page with a recipe, or of an object's detail, is answered here
too (caching.http.recipes, caching.http.details). Anything else (a middleware
above the hit path this module does not know, another miss, an unknown token, a
session cookie, an odd URL) goes to Django as it came;
a miss hands its lookup on in the environ, so the view does not read again, and
its URL resolution, so that Django's handler (``DjangoHandler``) does not
resolve the path again.

Each server process also runs the outbox watcher (caching.orm.outbox):
invalidations that a writer cut off from Redis left behind are applied within a
poll of its commit, by whichever process can reach Redis.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from http.client import responses as reasons
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, QueryDict
from django.http.cookie import parse_cookie
from django.urls import ResolverMatch, get_urlconf
from django.utils.cache import get_conditional_response
from django.utils.module_loading import import_string

from caching import conf, store
from caching.http import details, fastpath, recipes
from caching.http.auth import Identity
from caching.http.responses import VARY, group_of
from caching.orm import outbox
from caching.orm.invalidation import is_dirty
from caching.store import CacheStatus
from caching.store.client import CacheUnavailable
from caching.store.metrics import FAST_RESPONSES

logger = logging.getLogger("caching")
WSGIApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]

# Middleware whose whole effect on a hit is headers that depend on the
# settings and on whether the request is secure: applied once to an empty
# response, then copied onto every hit.
HEADER_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    }
)
# Middleware whose effect on a hit this module reproduces itself.
REPRODUCED_MIDDLEWARE = frozenset(
    {
        "caching.http.conditional.ConditionalGet",  # the 304, below
        # counted by FAST_RESPONSES instead of per-request series
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        # serves files under STATIC_URL only: such paths go to Django
        "whitenoise.middleware.WhiteNoiseMiddleware",
    }
)
# Requests this path leaves to Django: long or NUL-carrying queries (the
# project's guards answer them), and preconditions other than If-None-Match.
MAX_QUERY = 4096
LEFT_TO_DJANGO = ("HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_MODIFIED_SINCE")
# Where a request going on to Django carries the URL resolution made here:
# (urlconf, path_info, ResolverMatch), taken by DjangoHandler.
ROUTE_ATTR = "caching.route"


@lru_cache(maxsize=1)
def unknown_middleware() -> tuple[str, ...]:
    """Return the middleware above the hit path whose effect this module cannot
    reproduce (empty: hits may be answered at the WSGI level)."""
    around = fastpath.around_hit_path()
    if around is None:
        return (f"({fastpath.HIT_PATH} is not in MIDDLEWARE)",)
    known = HEADER_MIDDLEWARE | REPRODUCED_MIDDLEWARE | set(conf.wsgi_transparent())
    return tuple(name for name in around[0] if name not in known)


class _Secure:
    """All the header middleware read of a request: whether it is secure."""

    def __init__(self, secure: bool) -> None:
        self.secure = secure

    def is_secure(self) -> bool:
        return self.secure


@lru_cache(maxsize=2)
def policy_headers(secure: bool) -> tuple[tuple[str, str], ...]:
    """Return the headers the header middleware add to a response."""
    response = HttpResponse()
    del response["Content-Type"]
    names = [n for n in settings.MIDDLEWARE if n in HEADER_MIDDLEWARE]
    for name in reversed(names):  # responses travel up the stack
        middleware = import_string(name)(lambda request: response)
        middleware.process_response(_Secure(secure), response)
    return tuple(response.items())


@lru_cache(maxsize=1)
def static_prefix() -> str | None:
    url = settings.STATIC_URL or ""
    return url if url.startswith("/") else (f"/{url}" if url else None)


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    unknown_middleware.cache_clear()
    policy_headers.cache_clear()
    static_prefix.cache_clear()
    proxy_ssl_header.cache_clear()
    _prepared.clear()


class Keyed(NamedTuple):
    key: str
    group: str  # of the statistics
    variant: tuple[str, ...]  # what the answer varies on (Endpoint.variant)


@dataclass(slots=True)
class Prepared:
    """What a request's URL, host and Accept header decide, worked out once
    (through Django's own request: its host check, HTTPS test, path and query
    parsing); the key still depends on who asks, found out per request."""

    route: fastpath.Route
    # (urlconf, path_info, match): the resolution handed on to DjangoHandler
    resolved: tuple[str | None, str, ResolverMatch]
    path: str
    query: QueryDict
    pairs: list[tuple[str, str]]
    secure: bool
    keys: dict[Identity, Keyed] = field(default_factory=dict)

    def key_for(self, identity: Identity) -> Keyed:
        """Return the entry key, statistics group and variant of this caller's GET."""
        found = self.keys.get(identity)
        if found is None:
            if len(self.keys) >= 64:
                self.keys.clear()
            light = fastpath.LightRequest(
                self.path, self.query, identity, self.route.match
            )
            view = self.route.make_view()
            endpoint = self.route.endpoint
            variant = endpoint.variant(light, view)
            key = endpoint.request_key(light, view, self.pairs, variant)
            found = self.keys[identity] = Keyed(key, group_of(light, view), variant)
        return found


def prepare(environ: dict) -> Prepared | None:
    """Return what this request's URL decides, or None: Django answers it."""
    # A copy: WSGIRequest writes the path it decoded (UTF-8) back into its META,
    # and Django's handler would then read that as PEP 3333's latin-1 (a 500 on
    # /api/profiles/Иван/ going to Django, a 404 on /api/profiles/zoë/).
    request = WSGIRequest(environ.copy())
    prefix = static_prefix()
    if "\x00" in request.path_info or (prefix and request.path.startswith(prefix)):
        return None
    secure = request.is_secure()
    if settings.SECURE_SSL_REDIRECT and not secure:
        return None  # Django's SecurityMiddleware redirects it
    urlconf = get_urlconf()
    route = fastpath.cached_route(urlconf, request.path_info)
    if route is None or not fastpath.wants_canonical_json(request, route):
        return None
    try:
        request.get_host()
    except DisallowedHost:
        return None  # Django answers its 400
    pairs, errors = route.endpoint.canonical(request.GET)
    if errors:
        return None  # the view answers its 400
    return Prepared(
        route,
        (urlconf, request.path_info, route.match),
        request.path,
        request.GET,
        pairs,
        secure,
    )


# What prepare() reads of an environ: equal inputs, equal Prepared.
def _inputs(environ: dict) -> tuple:
    return (
        environ.get("PATH_INFO"),
        environ.get("QUERY_STRING"),
        environ.get("HTTP_ACCEPT"),
        environ.get("HTTP_HOST"),
        environ.get("SERVER_NAME"),
        environ.get("SERVER_PORT"),
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_X_FORWARDED_HOST"),
        environ.get("HTTP_X_FORWARDED_PORT"),
        environ.get(proxy_ssl_header()),
    )


_prepared: dict[tuple, Prepared | None] = {}
# Bounded (cleared when full): one worker meets a few thousand URLs in a Zipf
# workload over 10,000 products; each entry is a few hundred bytes.
MAX_PREPARED = 16_384


def prepared_for(environ: dict) -> Prepared | None:
    inputs = _inputs(environ)
    try:
        return _prepared[inputs]
    except KeyError:
        if len(_prepared) >= MAX_PREPARED:
            _prepared.clear()
        found = _prepared[inputs] = prepare(environ)
        return found


@lru_cache(maxsize=1)
def proxy_ssl_header() -> str:
    header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    return header[0] if header else ""


def answer_hit(environ: dict) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """Return (status, headers, body) of a cached GET or HEAD, or of a miss
    answered here: a list page assembled from its recipe (caching.http.recipes),
    an object's detail read and rendered (caching.http.details); or None:
    Django answers (a miss leaves its lookup in the environ for the view)."""
    query = environ.get("QUERY_STRING", "")
    if (
        len(query) > MAX_QUERY
        or "%00" in query
        or "\x00" in query
        or environ.get("SCRIPT_NAME")
        or any(name in environ for name in LEFT_TO_DJANGO)
        or unknown_middleware()
    ):
        return None
    prepared = prepared_for(environ)
    if prepared is None:
        return None
    # Whatever happens next, Django's handler need not resolve the path again.
    environ[ROUTE_ATTR] = prepared.resolved
    if is_dirty():
        return None
    cookie = environ.get("HTTP_COOKIE")
    try:
        identity = fastpath.identify_by(
            environ.get("HTTP_AUTHORIZATION"),
            parse_cookie(cookie) if cookie else {},
            cache_only=True,
        )
        if identity is None:
            return None
        keyed = prepared.key_for(identity)
        key = keyed.key
        lookup = store.read(key, group=keyed.group)
    except CacheUnavailable:
        return None
    payload, status_of = lookup.payload, CacheStatus.HIT
    if not lookup.hit:  # a list page from its recipe, a detail from its object
        made = recipes.assemble(key, lookup) or details.answer(
            environ, prepared.route, identity, keyed, lookup
        )
        if made is None:
            environ[fastpath.LOOKUP_ATTR] = (key, lookup)
            return None
        payload, status_of = made, CacheStatus.MISS
    header, _, body = payload.partition(b"\n")
    status, etag, content_type = header.decode().split(" ", 2)
    cache_control = prepared.route.endpoint.cache_control
    policy = policy_headers(prepared.secure)
    if (
        environ.get("HTTP_IF_NONE_MATCH")
        and status.startswith("2")
        and not_modified(environ["HTTP_IF_NONE_MATCH"], etag)
    ):
        headers = [
            ("Cache-Control", cache_control),
            ("ETag", etag),
            ("Vary", VARY),
            ("X-Cache", status_of.value),
            *policy,
        ]
        return "304 Not Modified", headers, b""
    if status_of is CacheStatus.HIT:  # in the order Django's path sends them
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("ETag", etag),
            ("Vary", VARY),
            ("X-Cache", status_of.value),
            ("Allow", prepared.route.allow),
            ("Cache-Control", cache_control),
        ]
    else:  # a miss: the view's headers first, then the conditional middleware's
        headers = [
            ("Content-Type", content_type),
            ("Vary", VARY),
            ("Allow", prepared.route.allow),
            ("X-Cache", status_of.value),
            ("Cache-Control", cache_control),
            ("Content-Length", str(len(body))),
            ("ETag", etag),
        ]
    return f"{status} {reasons[int(status)]}", [*headers, *policy], body


def not_modified(if_none_match: str, etag: str) -> bool:
    """Return whether Django's conditional GET would answer 304 (If-None-Match
    alone: the other preconditions go to Django)."""
    request = HttpRequest()
    request.method = "GET"
    request.META["HTTP_IF_NONE_MATCH"] = if_none_match
    return get_conditional_response(request, etag=etag) is not None


class CachedApplication:
    """A WSGI application answering cache hits itself, the rest through the
    application it wraps; it starts this process's cache background work."""

    def __init__(self, application: WSGIApp) -> None:
        self.application = application

    def __call__(
        self, environ: dict, start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        outbox.start_watcher()  # once per process: a pid comparison after that
        method = environ.get("REQUEST_METHOD")
        if method in ("GET", "HEAD") and conf.enabled() and conf.wsgi_hits():
            started = time.perf_counter()
            try:
                answer = answer_hit(environ)
            except Exception:  # a fault here must not cost the request: Django
                logger.exception("WSGI hit path failed; Django answers")
                environ.pop(fastpath.LOOKUP_ATTR, None)
                environ.pop(ROUTE_ATTR, None)
                answer = None
            if answer is not None:
                status, headers, body = answer
                start_response(status, headers)
                FAST_RESPONSES.count(status[:3], time.perf_counter() - started)
                return (body,)
        return self.application(environ, start_response)


class DjangoHandler(WSGIHandler):
    """Django's WSGI handler, taking the URL resolution the hit path made for a
    request it passed on (a miss, say) instead of resolving the path again."""

    def resolve_request(self, request: HttpRequest) -> ResolverMatch:
        handed = request.META.pop(ROUTE_ATTR, None)
        # As Django would resolve: against ROOT_URLCONF unless a middleware
        # set request.urlconf, the path as it is now.
        if handed is not None and not hasattr(request, "urlconf"):
            urlconf, path_info, match = handed
            if path_info == request.path_info and urlconf in (
                None,
                settings.ROOT_URLCONF,
            ):
                request.resolver_match = match = own_copy(match)
                return match
        return super().resolve_request(request)


def own_copy(match: ResolverMatch) -> ResolverMatch:
    """Return a copy of a route's shared match that the request may change."""
    copied = ResolverMatch.__new__(ResolverMatch)  # copy.copy: it refuses pickling
    copied.__dict__.update(match.__dict__)
    for name in ("kwargs", "captured_kwargs", "extra_kwargs"):
        value = getattr(match, name)
        if value is not None:
            setattr(copied, name, dict(value))
    return copied
