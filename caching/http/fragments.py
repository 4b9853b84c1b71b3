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

import copy
import json
from collections.abc import Sequence
from typing import Any

from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from caching import store
from caching.http.endpoint import Endpoint
from caching.http.responses import JSON, pack
from caching.orm import deps as dep
from caching.orm.invalidation import is_dirty
from caching.orm.pages import IdPages
from caching.store import Dep, Fill, keys

PLACEHOLDER = "\x00items\x00"  # no request can put a NUL in a page's links
PLACEHOLDER_JSON = json.dumps(PLACEHOLDER).encode()
Rendered = tuple[Any, Any]  # (body, the object it renders)


def lookup_fields(endpoint: Endpoint) -> tuple[str, ...]:
    """Return what a page's id query selects for the items of endpoint: the
    pk, and the value the detail's URL is found by if it is not the pk."""
    if endpoint.lookup == ("pk", "pk"):
        return ("pk",)
    return ("pk", endpoint.lookup_field)


def pk_of_item(item: Any) -> Any:
    """Return the pk of a page item (a pk, or (pk, lookup value))."""
    return item[0] if isinstance(item, tuple) else item


def detail_bodies(
    endpoint: Endpoint, items: Sequence[Any], request: Any, view: Any
) -> list[tuple[str, bytes]]:
    """Return the detail entries' keys and bodies of these objects as this
    caller would get them, in order (one with no body for this caller is left
    out). items: the
    page's pks, or (pk, lookup value) pairs (``lookup_fields``). What a
    detail varies on is worked out per item, with the list's request and its
    view holding the detail's URL kwargs (a profile's owner sees their email)."""
    assert endpoint.lookup is not None
    kwarg = endpoint.lookup[0]
    item_view = copy.copy(view)
    key_of: dict[Any, str] = {}
    values_of: dict[Any, tuple[str, ...]] = {}
    for item in items:
        pk, value = item if isinstance(item, tuple) else (item, item)
        path = endpoint.detail_path(value)
        assert path is not None, f"{endpoint.url_name}: no detail for {value!r}"
        item_view.kwargs = {kwarg: str(value)}  # as the detail's URL gives it
        values = endpoint.variant(request, item_view)
        values_of[pk] = values
        key_of[pk] = keys.response_key(path, "-".join(values))
    pks = list(key_of)
    pk_of = {key: pk for pk, key in key_of.items()}
    assert endpoint.model is not None
    assert endpoint.render is not None
    render = endpoint.render
    manager: Any = endpoint.model._default_manager

    def load(missing: list[str]) -> dict[str, Rendered]:
        rows = manager.uncached().with_embedded().in_bulk([pk_of[k] for k in missing])
        rendered = {
            key_of[pk]: (render(obj, *values_of[pk]), obj) for pk, obj in rows.items()
        }
        return {key: r for key, r in rendered.items() if r[0] is not None}

    by_key = store.fetch_many(
        [key_of[pk] for pk in pks],
        load,
        encode=lambda r: Fill(pack(r[0]), dep.for_instance(r[1])),
        decode=lambda payload: (payload.partition(b"\n")[2], None),  # pack()'s header
        usable=not is_dirty(),
        group=f"api:{endpoint.url_name}",
    )
    return [(key_of[pk], by_key[key_of[pk]][0]) for pk in pks if key_of[pk] in by_key]


def page_dependencies(ids: IdPages, items: Sequence[Any]) -> list[Dep]:
    """Return what a page assembled from its items' detail entries depends on:
    its length and ids (caching.orm.columns), and what each item's detail
    depends on (its row, and the tables of the relations it embeds: coarser
    than each detail's own rows, never finer)."""
    model = ids.model
    relations = [d for d in dep.for_models(model) if d != dep.table(model)]
    rows = [dep.row(model, pk_of_item(item)) for item in items]
    return sorted({*ids.dependencies(), *rows, dep.all_rows(model), *relations})


def render_envelope(envelope: Response) -> bytes:
    """Return envelope (a paginated response whose items are PLACEHOLDER)
    rendered."""
    return JSONRenderer().render(envelope.data)


def page_response(rendered: bytes, bodies: list[bytes]) -> Response:
    """Return a rendered envelope with the bodies as its items."""
    response = Response()
    response.content = rendered.replace(PLACEHOLDER_JSON, assembled(bodies), 1)
    response["Content-Type"] = JSON
    return response


def assembled(bodies: list[bytes]) -> bytes:
    """Return the items of a page as its JSON array."""
    return b"[" + b",".join(bodies) + b"]"
