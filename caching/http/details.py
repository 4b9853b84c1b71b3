"""
An object's detail missed at the WSGI level (caching.http.wsgi), answered there
without Django: the object found by the URL's lookup value with the relations
its entries embed, rendered by its endpoint for this caller
(``Endpoint.render``: the body write-through stores and list pages are
assembled from) and filled as of the read's clock, by the lease holder only.

This spares a miss Django's handler, the middleware, DRF's dispatch and the
view's queryset building: a fifth of its CPU (bench.miss_cost). What DRF
checks before a view runs is checked here too, with the view's own classes:
its permissions, then its throttles, which count the request (a miss reaches
the database). Anything else goes to Django, the read handed on: a follower,
a caller the permissions refuse, no object or none for this caller (a 404), a
database error. A throttled caller goes too, with what the throttles said:
DRF raises its 429 without counting the request again (``CachedReadsMixin``).
And all of them go while a middleware below the hit path is not known to leave
such a request alone (it might answer otherwise than the view would).
"""

from __future__ import annotations

import contextlib
import logging
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.signals import setting_changed
from django.db import close_old_connections
from django.dispatch import receiver
from django.http.request import HttpHeaders

from caching import conf
from caching.http import fastpath
from caching.http.auth import Identity
from caching.http.responses import pack
from caching.orm import deps as dep
from caching.store import Fill, Lookup, before_fill, client, fill

if TYPE_CHECKING:
    from caching.http.wsgi import Keyed

logger = logging.getLogger("caching")

# Where a request going on to Django carries the throttles' verdict here:
# (view class, the waits of those that refused it; none: allowed).
THROTTLED_ATTR = "caching.throttled"

# Middleware below the hit path that do nothing to a 200 answering a GET from a
# token or anonymous caller (one with a session cookie goes to Django).
QUIET_BELOW = frozenset(
    {
        "django.contrib.sessions.middleware.SessionMiddleware",  # none to save
        # its redirects answer 404s; PREPEND_WWW and user agents: answerable()
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",  # a GET: nothing to check
        "django.contrib.auth.middleware.AuthenticationMiddleware",  # lazy
        "django.contrib.messages.middleware.MessageMiddleware",  # none to store
        # counted in process instead, as hits are (caching.store.metrics)
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    }
)


@lru_cache(maxsize=1)
def answerable() -> bool:
    """Return whether the middleware below the hit path leave a detail's miss
    as the view makes it: then it may be answered at the WSGI level."""
    around = fastpath.around_hit_path()
    if around is None or settings.PREPEND_WWW or settings.DISALLOWED_USER_AGENTS:
        return False
    known = QUIET_BELOW | set(conf.wsgi_transparent())
    return all(name in known for name in around[1])


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    answerable.cache_clear()


class Caller:
    """What a view's permission and throttle classes read of a DRF request
    (one that reads more makes this path leave the request to Django)."""

    def __init__(self, environ: dict, user: Identity) -> None:
        self.META = environ
        self.method = environ["REQUEST_METHOD"]
        self.user = user

    @cached_property
    def headers(self) -> HttpHeaders:
        return HttpHeaders(self.META)


def answer(
    environ: dict,
    route: fastpath.Route,
    identity: Identity,
    keyed: Keyed,
    lookup: Lookup,
) -> bytes | None:
    """Return the stored form of this detail, read, rendered and filled, or
    None: Django answers (lookup still held for it)."""
    endpoint = route.endpoint
    if (
        not lookup.leader
        or endpoint.render is None
        or endpoint.lookup is None
        or not answerable()
    ):
        return None
    value = route.match.kwargs.get(endpoint.lookup[0])
    if value is None:
        return None
    view = route.make_view()
    caller = Caller(environ, identity)
    try:
        permissions = view.get_permissions()
        if not all(p.has_permission(caller, view) for p in permissions):
            return None
        refused = []
        for throttle in view.get_throttles():  # all of them count, as in DRF
            if not throttle.allow_request(caller, view):
                refused.append(throttle.wait())
        environ[THROTTLED_ATTR] = (type(view), refused)
        if refused:
            return None
        obj = _read(endpoint, value)
        if obj is None or not all(
            p.has_object_permission(caller, view, obj) for p in permissions
        ):
            return None
        body = endpoint.render(obj, *keyed.variant)
    except Exception:  # whatever it is, Django's path answers it as it would
        logger.debug("detail miss left to Django: %s", keyed.key, exc_info=True)
        return None
    if body is None:
        return None  # none for this caller: Django's 404
    payload = pack(body)
    for hook in before_fill:  # tests: a write between the read and the fill
        hook(keyed.key)
    with contextlib.suppress(client.CacheUnavailable):  # answered all the same
        fill(
            keyed.key,
            lookup.asof,
            Fill(payload, dep.for_instance(obj)),
            ttl=endpoint.ttl_seconds(),
            token=lookup.token,
            group=keyed.group,
        )
    return payload


def _read(endpoint: Any, value: Any) -> Any:
    """Return the detail's object, closing the connections Django's handler
    would have closed before and after a request (too old, or broken)."""
    close_old_connections()
    try:
        return endpoint.detail_object(value)
    finally:
        close_old_connections()
