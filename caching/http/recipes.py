"""
A list page's recipe: how its last miss assembled it, so that the next miss of
the same response key is assembled at the WSGI level, without Django.

A page assembled from its items' detail entries (caching.http.fragments) is a
function of its length, its ids and those entries: the envelope (count, links)
is what DRF rendered for the same response key and length, and the items'
keys are what the same caller variant reads for the same ids. The recipe keeps
the keys of all three and the envelope, so a miss reads the length, the ids
and every item in one round trip, and when the length and ids are the ones it
was made with and every item is a hit, joins the bytes and fills the page as
of the response read's clock (the lease holder only): the I1 check of any fill.
Anything else (a changed length or ids, an item missing or stale, another
process filling) leaves the request to Django, with its read handed on.

A recipe is made only for a page every item of which had a body, and kept in
the process for at most the endpoint's TTL, as a page's plan is
(caching.orm.pages); both are forgotten on any settings change.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from caching.http import fragments
from caching.http.responses import pack
from caching.memo import Memo
from caching.orm.pages import PagePlan
from caching.store import Dep, Fill, Lookup, before_fill, client, fill, read_many


@dataclass(frozen=True, slots=True)
class Recipe:
    plan: PagePlan  # the keys of the length and ids, the length
    ids: tuple[Any, ...]  # the page's ids (or items) as read
    item_keys: tuple[str, ...]  # their detail entries for this caller variant
    envelope: bytes  # rendered, the items a placeholder
    deps: tuple[Dep, ...]  # the page's
    ttl: int | None
    group: str


def assemble(key: str, lookup: Lookup) -> bytes | None:
    """Return the stored form of the page under key, assembled and filled
    from its recipe, or None: Django answers (lookup still held for it)."""
    recipe = kept.get(key)
    if recipe is None or not lookup.leader:
        return None
    plan = recipe.plan
    try:
        count, ids, *items = read_many(
            [plan.count_key, plan.ids_key, *recipe.item_keys]
        )
    except client.CacheUnavailable:
        return None
    current = plan.current_ids(count, ids)
    if current is None or tuple(current) != recipe.ids:
        return None
    if not all(item.hit for item in items):
        return None
    bodies = [item.payload.partition(b"\n")[2] for item in items]  # pack()'s header
    joined = fragments.assembled(bodies)
    payload = pack(recipe.envelope.replace(fragments.PLACEHOLDER_JSON, joined, 1))
    for hook in before_fill:  # tests: a write between the reads and the fill
        hook(key)
    with contextlib.suppress(client.CacheUnavailable):  # answered all the same
        fill(
            key,
            lookup.asof,
            Fill(payload, recipe.deps),
            ttl=recipe.ttl,
            token=lookup.token,
            group=recipe.group,
        )
    return payload


# Kept under the page's response key; a recipe is about 3 KB (its keys, deps).
kept: Memo[Recipe] = Memo(limit=2_048)
