"""
Redis caching for Django and DRF that does not serve stale data: cache-aside
querysets and objects, responses cached per endpoint declaration, write-through,
invalidation of every write Django executes, and the outbox, fence and breakers
that keep it right through races, outages and failovers.

What an adopting project uses is here (docs/adopting.md walks through it):

    from caching import (
        CachedManager, WriteThroughManager,      # models opt in
        Endpoint, Vary, Param, params, cache,    # views: one declaration each
        CachedReadsMixin, render_json,
        deps, invalidate,                        # dependencies; writes outside Django
        Upstream,                                # third-party results
        CachedModelAdmin, CachedApplication, DjangoHandler,
    )

Names load on first use, so ``import caching`` is safe before Django is set up
(settings import ``caching.store.topology``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from caching.http import params
    from caching.http.decorator import (
        CachedReadsMixin,
        cache,
        cache_api_result,
        vary_staff,
        vary_user,
    )
    from caching.http.endpoint import Endpoint, Vary
    from caching.http.params import Param
    from caching.http.serializers import FieldsBuiltOnce, render_json
    from caching.http.upstream import Upstream, UpstreamUnavailable
    from caching.http.wsgi import CachedApplication, DjangoHandler
    from caching.ops.admin import CachedModelAdmin
    from caching.orm import deps
    from caching.orm.invalidation import invalidate
    from caching.orm.managers import CachedManager, CachedQuerySet, WriteThroughManager
    from caching.orm.registry import track

_PUBLIC = {
    "CachedManager": "caching.orm.managers",
    "CachedQuerySet": "caching.orm.managers",
    "WriteThroughManager": "caching.orm.managers",
    "track": "caching.orm.registry",
    "invalidate": "caching.orm.invalidation",
    "Endpoint": "caching.http.endpoint",
    "Vary": "caching.http.endpoint",
    "Param": "caching.http.params",
    "params": "caching.http",
    "deps": "caching.orm",
    "cache": "caching.http.decorator",
    "cache_api_result": "caching.http.decorator",
    "CachedReadsMixin": "caching.http.decorator",
    "vary_staff": "caching.http.decorator",
    "vary_user": "caching.http.decorator",
    "render_json": "caching.http.serializers",
    "FieldsBuiltOnce": "caching.http.serializers",
    "Upstream": "caching.http.upstream",
    "UpstreamUnavailable": "caching.http.upstream",
    "CachedApplication": "caching.http.wsgi",
    "DjangoHandler": "caching.http.wsgi",
    "CachedModelAdmin": "caching.ops.admin",
}
__all__ = [
    "deps",
    "CachedApplication",
    "CachedManager",
    "CachedModelAdmin",
    "CachedQuerySet",
    "CachedReadsMixin",
    "DjangoHandler",
    "Endpoint",
    "FieldsBuiltOnce",
    "Param",
    "Upstream",
    "UpstreamUnavailable",
    "Vary",
    "WriteThroughManager",
    "cache",
    "cache_api_result",
    "invalidate",
    "params",
    "render_json",
    "track",
    "vary_staff",
    "vary_user",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'caching' has no attribute {name!r}")
    package = import_module(module)
    try:
        value = getattr(package, name)
    except AttributeError:  # a submodule: caching.http.params, caching.orm.deps
        value = import_module(f"{module}.{name}")
    globals()[name] = value  # next time, a plain attribute
    return value
