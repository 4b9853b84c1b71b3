"""
A list page assembled from its objects' detail entries (Russian-doll caching).

An item of a list renders exactly as the object's detail does for the same
caller, so the stored detail bodies are the list's fragments: a page is the
envelope (count, links) rendered once, with the bodies joined into its
``results``. A compact JSON array is ``[`` + the items joined by ``,`` + ``]``,
so the bytes are those DRF's JSONRenderer would write for the whole page.

After a write to one object (write-through refills its details), the next
miss of a page reads its ids and one pipelined read of twenty detail entries:
nothing is unpickled or serialized. Detail entries missing are rendered from
one query and filled, each as of the clock its own read returned.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from caching import conf, store
from caching.http.endpoint import Endpoint, PkOnly
from caching.http.responses import JSON, pack
from caching.orm import deps as dep
from caching.orm.invalidation import is_dirty
from caching.store import Fill, client, keys, metrics

PLACEHOLDER = "\x00items\x00"  # no request can put a NUL in a page's links
_PLACEHOLDER_JSON = json.dumps(PLACEHOLDER).encode()


def detail_bodies(
    endpoint: Endpoint, pks: Sequence[Any], request: Any, view: Any
) -> list[bytes]:
    """Return the detail bodies of these objects as this caller would get
    them, in order (one with no body for this caller is left out)."""
    values = tuple(v.of_request(request, view) for v in endpoint.vary)
    vary = "-".join(values)
    key_of = {}
    for pk in pks:
        path = endpoint.path_of(PkOnly(pk))
        assert path is not None, f"{endpoint.url_name}: not a detail found by pk"
        key_of[pk] = keys.response_key(path, vary)
    entry_keys = [key_of[pk] for pk in pks]
    group = f"api:{endpoint.url_name}"
    lookups: list[store.Lookup] | None = None
    if pks and conf.enabled() and not is_dirty():
        try:
            lookups = store.read_many(entry_keys, group=group)
        except client.CacheUnavailable:
            metrics.bypass(group)
    bodies: dict[Any, bytes] = {}
    missing: dict[Any, int | None] = {}  # pk: the asof of its fill, if any
    for index, pk in enumerate(pks):
        lookup = lookups[index] if lookups is not None else None
        if lookup is not None and lookup.hit:
            bodies[pk] = lookup.payload.partition(b"\n")[2]  # pack()'s header
        else:
            missing[pk] = lookup.asof if lookup is not None else None
    if missing:
        assert endpoint.model is not None
        assert endpoint.render is not None
        manager: Any = endpoint.model._default_manager
        loaded = manager.uncached().with_embedded().in_bulk(list(missing))
        fills: list[tuple[str, Fill]] = []
        asof: dict[str, int] = {}
        for pk, obj in loaded.items():
            body = endpoint.render(obj, *values)
            if body is None:
                continue
            bodies[pk] = body
            read_asof = missing[pk]
            if read_asof is not None:
                key = key_of[pk]
                fills.append((key, Fill(pack(body), dep.for_instance(obj))))
                asof[key] = read_asof
                for hook in store.before_fill:
                    hook(key)
        with contextlib.suppress(client.CacheUnavailable):
            store.fill_many(fills, asof, written=False, group=group)
    return [bodies[pk] for pk in pks if pk in bodies]


def page_response(envelope: Response, bodies: list[bytes]) -> Response:
    """Return envelope (a paginated response whose items are PLACEHOLDER)
    rendered, with the bodies as its items."""
    rendered = JSONRenderer().render(envelope.data)
    items = b"[" + b",".join(bodies) + b"]"
    response = Response(status=envelope.status_code)
    response.content = rendered.replace(_PLACEHOLDER_JSON, items, 1)
    response["Content-Type"] = JSON
    return response
