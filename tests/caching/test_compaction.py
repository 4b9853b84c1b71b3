"""
Compaction (CONTRACT 4.10): the stamp hashes stay proportional to the rows
written within the horizon, and removing a stamp never makes an entry it voided
servable again (the floor is raised first).
"""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command

from caching import store
from caching.orm import deps as dep
from caching.store import Fill, compaction, keys, scripts
from tests.caching.testapp.models import Book

pytestmark = pytest.mark.django_db(transaction=True)
HORIZON = 0.05  # seconds: time-compressed; entries live 300 s


def stamp_fields(redis, model=Book) -> int:
    """Count the stamps of model (not the field that keeps a hash a hashtable)."""
    hashes = [keys.version_key(model, shard) for shard in range(len(keys.roots()))]
    return sum(len(set(redis.hkeys(name)) - {b"~"}) for name in hashes)


def compact_after_horizon() -> compaction.Compacted:
    compaction.compact(horizon=HORIZON)  # a tick now
    time.sleep(HORIZON * 2)
    return compaction.compact(horizon=HORIZON)  # that tick is past the horizon


def test_an_entry_voided_by_a_compacted_stamp_stays_dead(book, redis):
    key = keys.object_key(Book, book.pk)
    Book.objects.get_cached(pk=book.pk)
    old = redis.get(key)
    Book.objects.filter(pk=book.pk).update(name="Changed")
    assert redis.get(key) is None  # the DEL
    redis.set(key, old, ex=300)  # as if the DEL had been lost (an outage)
    assert not store.read(key, lease=False).hit  # voided by the row's stamp
    result = compact_after_horizon()
    assert result.removed > 0
    assert not redis.hexists(keys.version_key(Book, keys.shard_of(key)), book.pk)
    assert not store.read(key, lease=False).hit  # dead by the floor instead
    assert Book.objects.get_cached(pk=book.pk).name == "Changed"


def test_a_fill_from_before_the_floor_is_refused(book):
    key = keys.object_key(Book, book.pk)
    asof = store.now(keys.shard_of(key))
    store.stamp([dep.table("testapp.label")])  # the clock moves on
    compact_after_horizon()
    assert not store.fill(key, asof, Fill(b"old", [dep.row(Book, 1)]), ttl=60)
    assert store.fill(key, store.now(keys.shard_of(key)), Fill(b"new", []), ttl=60)


def test_fresh_entries_and_recent_stamps_survive(book, redis):
    key = keys.object_key(Book, book.pk)
    Book.objects.filter(pk=book.pk).update(name="Recent")
    Book.objects.get_cached(pk=book.pk)
    compaction.compact(horizon=3600)
    assert redis.hexists(keys.version_key(Book, keys.shard_of(key)), book.pk)
    assert store.read(key, lease=False).hit


def test_stamp_hashes_stay_bounded_over_100000_create_delete_cycles(redis):
    """Time-compressed: 100,000 rows created and deleted (two stamps each, in
    pipelined batches of 2,000), a compaction after each batch."""
    label = "testapp.book"
    most = 0
    for batch in range(50):
        first = batch * 2_000
        calls = [
            (
                scripts.INVALIDATE,
                [keys.clock_key(shard), keys.stats_key(shard), keys.recent_key(shard)],
                [keys.version_prefix(shard), wire, "0"],
            )
            for pk in range(first, first + 2_000)
            for wire in [store.encode_deps([dep.row(label, pk), dep.table(label)])] * 2
            for shard in range(len(keys.roots()))
        ]  # each row created, then deleted
        store.pipelined(redis, calls)
        time.sleep(HORIZON * 2)
        compaction.compact(horizon=HORIZON)
        most = max(most, stamp_fields(redis))
    # At most the last two batches' rows (and the table field) are left.
    assert most <= 4_001 * len(keys.roots())
    assert stamp_fields(redis) <= 4_001 * len(keys.roots())


def test_the_compaction_job_runs_once_across_processes(redis, settings):
    settings.CACHING = {**settings.CACHING, "COMPACT_EVERY": 60}
    compaction._last_run = 0.0
    assert compaction.maybe_run()
    compaction._last_run = 0.0  # another process's turn: the lock is held
    assert not compaction.maybe_run()
    assert redis.pttl(keys.job_key("compact")) > 50_000


def test_cache_compact_command(book, redis):
    Book.objects.filter(pk=book.pk).update(name="Old news")
    call_command("cache_compact", "--horizon", "0")  # the first tick
    time.sleep(0.01)
    out = io.StringIO()
    call_command("cache_compact", "--horizon", "0", stdout=out)
    assert out.getvalue().startswith("Removed ")
    assert stamp_fields(redis) == 0  # the row's, "#" and "*" included


def test_a_stamp_hash_stays_a_hashtable_through_compaction(book, redis):
    """A stamp lookup is O(1) whatever the server's listpack thresholds: the
    '~' field's long value keeps every stamp hash a hashtable, and compaction
    leaves it."""
    Book.objects.filter(pk=book.pk).update(name="Changed")
    name = keys.version_key(Book, keys.shard_of(keys.object_key(Book, book.pk)))
    assert redis.object("encoding", name) == b"hashtable"
    compact_after_horizon()
    assert stamp_fields(redis) == 0
    assert redis.object("encoding", name) == b"hashtable"
    Book.objects.filter(pk=book.pk).update(name="Again")
    assert Book.objects.get_cached(pk=book.pk).name == "Again"


def test_the_marker_is_a_stamp_of_zero_to_an_older_compaction(book, redis):
    """During a rolling upgrade, a process of the previous release compacts
    hashes that hold the marker: to its script the field is a stamp of 0, at
    or below any floor, dropped without an error."""
    previous_release_compact = """
local floor = tonumber(redis.call('GET', KEYS[2]) or 0)
local removed = 0
for i = 1, #ARGV do
  local stamp = redis.call('HGET', KEYS[1], ARGV[i])
  if stamp and tonumber(stamp) <= floor then
    redis.call('HDEL', KEYS[1], ARGV[i])
    removed = removed + 1
  end
end
return removed
"""
    Book.objects.filter(pk=book.pk).update(name="Changed")
    shard = keys.shard_of(keys.object_key(Book, book.pk))
    name = keys.version_key(Book, shard)
    assert (
        redis.eval(previous_release_compact, 2, name, keys.floor_key(shard), "~") == 1
    )
    assert redis.object("encoding", name) == b"hashtable"
