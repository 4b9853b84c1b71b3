"""
Response caching for DRF views: ``@cache(endpoint)``.

The seed's Flask decorator, made correct: the key is the path, the declared
query parameters in canonical form (caching.http.params) and what the response
varies on (staff or not, the user, ...), all from the endpoint's declaration
(caching.http.endpoint); only the canonical JSON rendering of a ``200`` to
``GET`` or ``HEAD`` is stored, with its status and content type; the entry
carries the dependencies of what it shows, so every write that changes it makes
it unservable. A hit is answered from the stored bytes: no queryset, serializer
or renderer runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from django.http import HttpResponse
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from caching.http import details, fastpath, fragments, recipes
from caching.http.endpoint import ENDPOINT_ATTR, DepsOf, Endpoint, Vary
from caching.http.params import Param
from caching.http.responses import (
    VARY,
    canonical_querydict,
    group_of,
    is_canonical,
    mark,
    marked,
    pack,
    unpack,
)
from caching.orm import deps as dep
from caching.orm import pages
from caching.orm.invalidation import is_dirty
from caching.orm.pages import IdPages
from caching.store import CacheStatus, Dep, Fill, Outcome, fetch, metrics


def cache(endpoint: Endpoint) -> Callable[[Callable[..., Response]], Callable]:
    """Cache the rendered result of a DRF view method, as endpoint declares.

    Invalid declared parameters are a 400 that is not cached; ``X-Cache`` says
    HIT, MISS or BYPASS.
    """

    def decorator(method: Callable[..., Response]) -> Callable[..., Any]:
        @wraps(method)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any):
            if request.method not in ("GET", "HEAD") or not is_canonical(
                request.accepted_renderer, request.accepted_media_type
            ):
                metrics.bypass(group_of(request, view))
                response = method(view, request, *args, **kwargs)
                response["X-Cache"] = CacheStatus.BYPASS.value
                response["Cache-Control"] = endpoint.cache_control
                return response
            pairs, errors = endpoint.canonical(request.query_params)
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
                    endpoint.deps(view, response)
                    if endpoint.deps
                    else view.get_cache_dependencies(response)
                )
                return Fill(
                    pack(response.content, content_type=response["Content-Type"]),
                    list(depends),
                )

            key = endpoint.request_key(request, view, pairs)
            view.response_key, view.response_ttl = key, endpoint.ttl_seconds()
            outcome: Outcome[HttpResponse] = fetch(
                key,
                lambda: method(view, request, *args, **kwargs),
                encode=encode,
                decode=unpack,
                ttl=endpoint.ttl_seconds(),
                usable=not is_dirty(),
                group=group_of(request, view),
                lookup=fastpath.handed_on(request, key),
                computing=lambda status: mark(request, status),
            )
            answer = outcome.value
            answer["X-Cache"] = outcome.status.value
            answer["Vary"] = VARY
            answer["Cache-Control"] = endpoint.cache_control
            return answer

        setattr(wrapper, ENDPOINT_ATTR, endpoint)  # the hit path reads it
        return wrapper

    return decorator


def cache_api_result(
    *,
    ttl: int | Callable[[], int] | None = None,
    vary_on: Sequence[Vary] = (),
    deps: DepsOf | None = None,
    query: Sequence[Param] = (),
) -> Callable:
    """Cache a DRF view method: the seed's decorator, declared in place (an
    endpoint without a URL name: no write-through forms, no warm)."""
    return cache(Endpoint(vary=vary_on, params=query, deps=deps, ttl=ttl))


def vary_staff(request: Any, view: Any) -> str:
    """Vary on whether the user is staff (staff see inactive products)."""
    return "staff" if request.user.is_staff else "public"


def vary_user(request: Any, view: Any) -> str:
    """Vary on the user (for responses that show a user's own data)."""
    user = request.user
    return f"u{user.pk}" if user.is_authenticated else "anon"


class CachedReadsMixin:
    """A view whose reads use ``@cache``: dependencies taken from the object
    fetched (details) or the model (lists); every answer to a GET says what the
    cache did (X-Cache), errors included."""

    fetched_object = None
    page_deps: list[Dep] | None = None  # a page assembled from its items' entries
    response_key: str | None = None  # of the request @cache answers
    response_ttl: int | None = None

    def get_object(self):
        self.fetched_object = super().get_object()  # type: ignore[misc]
        return self.fetched_object

    def list_from_entries(
        self, request: Request, items: Endpoint | None = None
    ) -> Response:
        """A list answered from the ORM tier, under the response tier: the
        page's ids and the list's length (cached queries, stale after any
        write to a table they read: ``IdPages``), then the page's objects from
        their own entries (``get_many_cached``: one round trip, one query for
        those missing). With ``items``, the endpoint of the objects' details,
        the page is assembled from their stored detail bodies instead
        (caching.http.fragments). A write to one object costs the next list
        miss that object, not a page; and such a page depends on its length
        and ids (their tables' membership and the columns they read) and on
        its items' rows, so an UPDATE of a column it neither filters nor orders
        on costs only the pages that show the row.

        A page leaves its plan (its length and ids entries: the next miss
        reads them in one round trip, building no queryset) and, assembled
        from details, its recipe (the next miss is assembled at the WSGI level:
        caching.http.recipes)."""
        view: Any = self
        plan = pages.plans.get(self.response_key) if self.response_key else None
        ids: list[Any] | IdPages | None = IdPages.from_plan(plan) if plan else None
        if ids is None:  # no plan, or its entries changed: the queryset
            queryset = view.filter_queryset(view.get_queryset())
            if view.paginator is None:
                flat = queryset.prefetch_related(None).cached()
                ids = list(flat.values_list("pk", flat=True))
            else:
                fields = ("pk",) if items is None else fragments.lookup_fields(items)
                ids = IdPages(queryset, fields=fields)
        page = view.paginate_queryset(ids)
        if isinstance(ids, IdPages) and self.response_key:
            made = ids.plan()
            if made is not None and made is not plan:
                pages.plans.put(self.response_key, made, self.response_ttl)
        if (
            items is not None
            and page is not None
            and is_canonical(request.accepted_renderer, request.accepted_media_type)
        ):  # the page from its items' detail entries, nothing serialized
            return self._page_of_details(request, items, ids, page)
        model = ids.model if isinstance(ids, IdPages) else queryset.model
        shown: Any = ids if page is None else page  # a list when not paginated
        objects = model._default_manager.get_many_cached(
            [fragments.pk_of_item(item) for item in shown]
        )
        data = view.get_serializer(objects, many=True).data
        return Response(data) if page is None else view.get_paginated_response(data)

    def _page_of_details(
        self, request: Request, items: Endpoint, ids: Any, page: list[Any]
    ) -> Response:
        view: Any = self
        assert isinstance(ids, IdPages)  # a paginated page
        found = fragments.detail_bodies(items, page, request, view)
        envelope = fragments.render_envelope(
            view.get_paginated_response(fragments.PLACEHOLDER)
        )
        self.page_deps = fragments.page_dependencies(ids, page)
        plan = ids.plan()
        if plan is not None and self.response_key and len(found) == len(page):
            recipe = recipes.Recipe(
                plan,
                tuple(page),
                tuple(key for key, _ in found),
                envelope,
                tuple(self.page_deps),
                self.response_ttl,
                group_of(request, view),
            )  # the next miss of this page, assembled at the WSGI level
            recipes.kept.put(self.response_key, recipe, self.response_ttl)
        return fragments.page_response(envelope, [body for _, body in found])

    def check_throttles(self, request: Request) -> None:
        # A detail miss the WSGI level began has been counted there
        # (caching.http.details): raise what its throttles said, not count again.
        counted = request.META.pop(details.THROTTLED_ATTR, None)
        if counted is None or counted[0] is not type(self):
            return super().check_throttles(request)  # type: ignore[misc]
        view: Any = self
        waits = [wait for wait in counted[1] if wait is not None]
        if counted[1]:  # as DRF's check_throttles: the longest wait
            view.throttled(request, max(waits, default=None))

    def get_cache_dependencies(self, response) -> list[Dep]:
        if self.page_deps is not None:
            return self.page_deps
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
