"""Keys: under the prefix, canonical, short whatever the input (CONTRACT 4.9)."""

from __future__ import annotations

import pytest

from caching import store
from caching.store import keys
from tests.caching.testapp.models import Book


@pytest.mark.django_db
def test_every_key_starts_with_the_configured_prefix(settings):
    settings.CACHING = {**settings.CACHING, "PREFIX": "acme"}
    settings.CACHING = {**settings.CACHING, "SHARDS": 1}
    assert keys.object_key(Book, 5) == "acme:o:testapp.book:5"
    assert keys.response_key("/testapp/books/", "public", "page=2").startswith(
        "acme:r:"
    )
    assert keys.clock_key() == "acme:clock"


@pytest.mark.django_db(transaction=True)
def test_parameters_in_any_order_give_one_key(api_client, book):
    first = api_client.get("/testapp/books/?shelf=books&page=1")
    second = api_client.get("/testapp/books/?page=1&shelf=books")
    assert (first["X-Cache"], second["X-Cache"]) == ("MISS", "HIT")
    assert first.content == second.content


def test_long_or_unsafe_parts_are_hashed_and_keys_stay_short():
    long_query = keys.normalize_query([("search", "x" * 5000), ("label", "a b*c\n")])
    key = keys.response_key("/testapp/books/", "public", long_query)
    assert len(key) < 200
    assert "\n" not in key
    assert " " not in key
    assert "*" not in key
    assert keys.response_key("/testapp/books/", "public", long_query) == key
    assert keys.response_key("/testapp/books/", "public", long_query + "y") != key


def test_ttl_has_jitter_within_ten_percent(settings):
    settings.CACHING = {**settings.CACHING, "TTL": 300}
    ttls = {store.jittered(None) for _ in range(200)}
    assert min(ttls) >= 270
    assert max(ttls) <= 330
    assert len(ttls) > 10


def test_cluster_shards_keep_each_script_in_one_slot_and_spread_over_slots(settings):
    from redis.crc import key_slot

    settings.CACHING = {**settings.CACHING, "PREFIX": "acme"}
    settings.CACHING = {**settings.CACHING, "SHARDS": 16}
    roots = keys.roots()
    assert all(root.startswith("acme:{") for root in roots)  # the prefix first
    # Shard i's label lands in the i-th sixteenth of the slot space: shards spread
    # evenly over the primaries whatever their number.
    assert [key_slot(root.encode()) * 16 // 16384 for root in roots] == list(range(16))
    entries = [keys.object_key(Book, pk) for pk in range(2000)]
    counts = [0] * 16
    for entry in entries:
        shard = keys.shard_of(entry)
        counts[shard] += 1
        slot = key_slot(entry.encode())
        # Everything one script touches for this entry shares its slot.
        for control in (
            keys.lease_key(entry),
            keys.clock_key(shard),
            keys.stats_key(shard),
            keys.floor_key(shard),
            keys.version_key(Book, shard),
        ):
            assert key_slot(control.encode()) == slot
    assert min(counts) > 2000 / 16 / 2  # one model's entries on every shard
    assert keys.is_control(keys.clock_key(3))
    assert keys.is_control(keys.version_key(Book, 5))
    assert not keys.is_control(entries[0])
