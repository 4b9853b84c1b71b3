"""
``read_many``: one script call per shard for many entries (a page's twenty
details), answering each entry exactly as ``read`` would: fresh entries hit,
missing, stale, below-the-floor and badly sealed ones miss as of the clock
read before the caller queries, and hits and misses are counted.
"""

from __future__ import annotations

import pytest

from caching import store
from caching.ops.stats import read_counters
from caching.store import Fill, codec, keys

pytestmark = pytest.mark.django_db


def filled(path: str, dep: tuple[str, str]) -> str:
    key = keys.response_key(path)
    asof = store.read(key, lease=False).asof
    assert store.fill(key, asof, Fill(path.encode(), [dep]), ttl=60)
    return key


@pytest.mark.parametrize("shards", [1, 4])
def test_each_entry_is_answered_as_read_answers_it(redis, settings, shards):
    settings.CACHING = {**settings.CACHING, "SHARDS": shards}
    fresh = filled("/fresh/", ("x.y", "1"))
    stale = filled("/stale/", ("x.y", "2"))
    missing = keys.response_key("/missing/")
    forged = filled("/forged/", ("x.y", "3"))
    asof, deps, _ = redis.get(forged).split(b"\n", 2)
    redis.set(forged, asof + b"\n" + deps + b"\n" + b"\x00" * codec.TAG + b"x")
    store.stamp([("x.y", "2")])

    wanted = [fresh, stale, missing, forged, fresh]
    found = store.read_many(wanted, group="test:many")

    assert [lookup.hit for lookup in found] == [True, False, False, False, True]
    assert found[0].payload == b"/fresh/" == found[4].payload
    assert [lookup.hit for lookup in map(store.read, wanted)] == [
        True, False, False, False, True
    ]  # fmt: skip
    for key, lookup in zip(wanted, found, strict=True):
        if not lookup.hit:  # a fill as of this asof would be servable
            assert lookup.asof == store.now(keys.shard_of(key))


def test_hits_and_misses_are_counted_in_one_call(redis):
    fresh = filled("/fresh/", ("x.y", "1"))
    store.read_many([fresh, keys.response_key("/a/"), keys.response_key("/b/")],
                    group="test:many")  # fmt: skip
    assert read_counters()["hit:test:many"] == 1
    assert read_counters()["miss:test:many"] == 2


def test_entries_below_the_floor_are_misses(redis):
    key = filled("/old/", ("x.y", "1"))
    shard = keys.shard_of(key)
    redis.set(keys.floor_key(shard), store.now(shard) + 1)
    assert store.read_many([key])[0].hit is False


def test_a_stamp_read_for_one_entry_is_checked_against_each_entrys_asof(redis):
    """Entries of a page share their relations' stamps, read once per call;
    each is still compared with the asof of the entry at hand."""
    older = filled("/older/", ("x.shared", "1"))
    store.stamp([("x.shared", "1")])
    newer = filled("/newer/", ("x.shared", "1"))
    assert [lookup.hit for lookup in store.read_many([newer, older])] == [True, False]
    assert [lookup.hit for lookup in store.read_many([older, newer])] == [False, True]
