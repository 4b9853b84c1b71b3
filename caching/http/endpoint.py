"""
One declaration per cached endpoint: everything its keys are made of.

    viewer = Vary("viewer", staff_or_public, values=("staff", "public"))

    product_detail = Endpoint(
        "product-detail",              # the URL name, as for reverse()
        model=Product,                 # detail of one object, found by pk
        vary=[viewer],
        render=render_product,         # (product, viewer value) -> bytes | None
    )

    class ProductViewSet(CachedReadsMixin, viewsets.ModelViewSet):
        @cache(product_detail)          # caching.http.decorator
        def retrieve(self, request, *args, **kwargs): ...

The decorator (a miss), the hit path (caching.http.fastpath), write-through
(every cached form of an object), the deletion of an object's own entries when
it changes, ``cache_warm`` and ``cache_verify`` all derive keys from the
declaration, so no key part is typed twice: the key of a request is
``response_key(path, "-".join(vary values), canonical query)``, and the key of
an object's form is the same function of ``path_of(object)`` and the values the
declaration lists for it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache, reduce
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

from caching.http.params import Param, canonical_query
from caching.http.responses import pack
from caching.http.serializers import rendering_once
from caching.orm import deps as dep
from caching.orm import registry
from caching.store import Dep, Fill, keys

ENDPOINT_ATTR = "cache_endpoint"  # on a decorated view method: its Endpoint
Caller = Any  # DRF's Request, or the hit path's LightRequest: .user, .path, ...
VaryOf = Callable[[Caller, Any], str]  # (request, view) -> this dimension's value
Values = tuple[str, ...] | Callable[[Any], Iterable[str]]


@dataclass(frozen=True)
class Vary:
    """One dimension a cached answer varies on, and the values it takes.

    ``values``: every value (``("staff", "public")``), or, when they depend on
    the object, a function of it (``lambda profile: [f"u{profile.user_id}"]``).
    """

    name: str
    of_request: VaryOf
    values: Values = ()

    def values_for(self, obj: Any) -> list[str]:
        """Return the values a cached form of obj can exist under."""
        return list(self.values(obj) if callable(self.values) else self.values)


DepsOf = Callable[[Any, Any], Iterable[Dep]]  # (view, response) -> dependencies
Render = Callable[..., bytes | None]  # (obj, *vary values) -> body, None: none


@dataclass(eq=False)
class Endpoint:
    """A cached view action: its URL, key dimensions, parameters, dependencies,
    TTL, and for an object's detail how to render each of its forms."""

    url_name: str | None = None  # None: keys from the request's path only
    model: type[models.Model] | None = None
    # (URL kwarg, attribute path of obj), or None for a URL without kwargs
    lookup: tuple[str, str] | None = ("pk", "pk")
    vary: Sequence[Vary] = ()
    params: Sequence[Param] = ()
    deps: DepsOf | None = None
    ttl: int | Callable[[], int] | None = None
    render: Render | None = None
    warm: bool = False  # cache_warm fetches it (a first list page, stats)

    def __post_init__(self) -> None:
        self.vary = tuple(self.vary)
        self.params = tuple(self.params)
        _endpoints.append(self)
        if self.model is not None:
            registry.own_entries(self.model, self.keys_of)
            if self.render is not None:
                registry.cached_forms(self.model, self.forms)

    def ttl_seconds(self) -> int | None:
        return self.ttl() if callable(self.ttl) else self.ttl

    @property
    def cache_control(self) -> str:
        """``private`` where the answer depends on who asks; ``no-cache`` (store,
        but revalidate every time) otherwise: invalidation here is immediate,
        and a max-age would let shared caches undo it."""
        return "private" if self.vary else "no-cache"

    def warm_path(self) -> str | None:
        """Return the path cache_warm fetches, if it is to warm this endpoint."""
        if not self.warm or self.url_name is None:
            return None
        return reverse(self.url_name)

    # --- keys of requests --------------------------------------------------------
    def canonical(self, query: Any) -> tuple[list[tuple[str, str]], dict]:
        """Return the canonical query pairs of a request and its errors."""
        return canonical_query(self.params, query)

    def request_key(
        self,
        request: Caller,
        view: Any,
        pairs: Sequence[tuple[str, str]],
        variant: tuple[str, ...] | None = None,
    ) -> str:
        """Return the key of a GET as seen by this caller (canonical pairs);
        variant: ``self.variant(request, view)`` if worked out already."""
        if variant is None:
            variant = self.variant(request, view)
        query = "&".join(f"{name}={value}" for name, value in pairs)
        return keys.response_key(request.path, "-".join(variant), query)

    def variant(self, request: Caller, view: Any) -> tuple[str, ...]:
        """Return what this caller's answer varies on: one value per Vary."""
        return tuple(v.of_request(request, view) for v in self.vary)

    # --- keys and forms of objects -----------------------------------------------
    def path_of(self, obj: Any) -> str | None:
        """Return the path of obj's detail, or None if obj cannot tell without a
        query (a related object not loaded) or it is not an object's detail."""
        if self.model is None or self.params or self.url_name is None:
            return None
        try:
            if self.lookup is None:
                return reverse(self.url_name)
            value = reduce(_loaded_attribute, self.lookup[1].split("."), obj)
        except (_NotLoaded, NoReverseMatch):
            return None
        return self.detail_path(value)  # no reverse() per write

    def detail_path(self, value: Any) -> str | None:
        """Return the path of the detail whose URL kwarg (the lookup's) is
        value: for an int from one ``reverse()`` per URL configuration and
        script prefix (a page of twenty items would reverse twenty times)."""
        if self.model is None or self.params or not self.url_name or not self.lookup:
            return None
        urlconf = (settings.ROOT_URLCONF, get_urlconf(), get_script_prefix())
        kwarg = self.lookup[0]
        if type(value) is int and value >= 0:
            around = _around_int(self.url_name, kwarg, *urlconf)
            if around is not None:
                return f"{around[0]}{value}{around[1]}"
        return _reversed(self.url_name, kwarg, value, *urlconf)

    def detail_object(self, value: Any) -> models.Model | None:
        """Return the object whose detail's URL kwarg is value, with the
        relations its forms embed, or None if there is not exactly one."""
        if self.model is None or self.lookup is None:
            return None
        manager: Any = self.model._default_manager  # a CachedManager
        lookup = {self.lookup_field: value}
        # No ORDER BY: two rows at most, and compiling one is a sixth of the query.
        rows = manager.uncached().with_embedded().filter(**lookup).order_by()
        found = list(rows[:2])
        return found[0] if len(found) == 1 else None

    @property
    def lookup_field(self) -> str:
        """The ORM path of the lookup's attribute: ``user__username``."""
        assert self.lookup is not None, f"{self.url_name}: not an object's detail"
        return self.lookup[1].replace(".", "__")

    def _combos(self, obj: Any) -> list[tuple[str, ...]]:
        return list(itertools.product(*(v.values_for(obj) for v in self.vary)))

    def keys_of(self, pk: Any, obj: Any = None) -> list[str]:
        """Return the keys of every form of one object's detail: what a change
        to it deletes. Without the object only a detail found by pk is known."""
        if obj is None:
            if self.lookup != ("pk", "pk") or any(
                callable(v.values) for v in self.vary
            ):
                return []
            obj = PkOnly(pk)
        path = self.path_of(obj)
        if path is None:
            return []
        return [keys.response_key(path, "-".join(c)) for c in self._combos(obj)]

    def forms(self, obj: Any) -> list[tuple[str, Fill]]:
        """Return (key, value) of every form of obj's detail a GET would store:
        what write-through puts in the cache."""
        path = self.path_of(obj)
        if path is None or self.render is None:
            return []
        depends = dep.for_instance(obj)
        found = []
        with rendering_once():
            for combo in self._combos(obj):
                body = self.render(obj, *combo)
                if body is not None:
                    key = keys.response_key(path, "-".join(combo))
                    found.append((key, Fill(pack(body), depends)))
        return found


_MARK = 9_182_736_450_917  # an int no URL of ours holds twice


@lru_cache(maxsize=256)
def _around_int(url_name: str, kwarg: str, *urlconf: Any) -> tuple[str, str] | None:
    """Return what a detail's path holds before and after its int kwarg."""
    path = _reversed(url_name, kwarg, _MARK, *urlconf)
    if path is None:
        return None
    before, mark, after = path.partition(str(_MARK))
    return (before, after) if mark and str(_MARK) not in after else None


@lru_cache(maxsize=8192)
def _reversed(url_name: str, kwarg: str, value: Any, *urlconf: Any) -> str | None:
    try:
        return reverse(url_name, kwargs={kwarg: value})
    except NoReverseMatch:
        return None


class _NotLoaded(Exception):
    pass


def _loaded_attribute(obj: Any, name: str) -> Any:
    """getattr, refusing a relation that would need a query (DEL runs inside
    the write, where a query is out of place)."""
    if isinstance(obj, models.Model):
        try:
            field_ = obj._meta.get_field(name)
        except Exception:  # noqa: BLE001  (not a field: a plain attribute)
            field_ = None
        relation = field_ is not None and field_.concrete and field_.is_relation
        if relation and not field_.is_cached(obj):  # type: ignore[union-attr]
            raise _NotLoaded(name)
    return getattr(obj, name)


@dataclass(frozen=True)
class PkOnly:
    pk: Any


_endpoints: list[Endpoint] = []


def endpoints() -> list[Endpoint]:
    """Return every declared endpoint."""
    return list(_endpoints)
