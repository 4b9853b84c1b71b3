"""
The stamped store under forced interleavings (CONSISTENCY-NOTES I1, I6, I12,
I16). Each test pauses a reader between its database read and its fill and
commits a write there; a naive cache-aside (SET after read) fails them.
"""

from __future__ import annotations

import os
import threading
import time
from decimal import Decimal

import pytest
from django_redis import get_redis_connection

from caching import store
from caching.orm import deps as dep
from caching.store import CacheStatus, Fill, client, entries, keys
from tests.caching.testapp.models import Book
from tests.hooks import queued_at

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pause_before_fill():
    """Run a function once, between a reader's database read and its fill."""
    with queued_at(store.before_fill) as queue:
        yield queue


def test_reader_that_read_before_a_write_cannot_fill_old_rows(pause_before_fill, book):
    """I1: miss, read v1; writer commits v2 and invalidates; the v1 fill is refused."""
    pause_before_fill(
        lambda: Book.objects.filter(pk=book.pk).update(price=Decimal("2"))
    )
    stale_read = Book.objects.cached().filter(pk=book.pk)
    assert [p.price for p in stale_read] == [
        Decimal("12.50")
    ]  # it overlapped the write
    fresh = Book.objects.cached().filter(pk=book.pk)
    assert [p.price for p in fresh] == [Decimal("2.00")]
    assert fresh.cache_status == CacheStatus.MISS


def test_object_reader_cannot_fill_after_a_related_row_changed(pause_before_fill, book):
    """I12: the shelf is found by the read; its rename still voids the fill."""
    shelf = book.shelf

    def rename():
        shelf.name = "Renamed"
        shelf.save()

    pause_before_fill(rename)
    assert Book.objects.get_cached(pk=book.pk).shelf.name == "Books"
    assert Book.objects.get_cached(pk=book.pk).shelf.name == "Renamed"


def test_api_reader_cannot_fill_an_old_detail(pause_before_fill, api_client, book):
    pause_before_fill(lambda: Book.objects.filter(pk=book.pk).update(name="New"))
    assert api_client.get(f"/testapp/books/{book.pk}/").json()["name"] == "Dune"
    response = api_client.get(f"/testapp/books/{book.pk}/")
    assert response["X-Cache"] == "MISS"
    assert response.json()["name"] == "New"


def test_late_write_through_fill_cannot_overwrite_a_newer_write(book):
    """I6: refills landing out of order: the older one is refused."""
    key = keys.object_key(Book, book.pk)
    old_asof = store.now(keys.shard_of(key))
    Book.objects.update_through(book, price=Decimal("30.00"))
    late = Fill(b"old bytes", dep.for_instance(book))
    assert store.fill(key, old_asof, late, ttl=60) is False
    assert Book.objects.get_cached(pk=book.pk).price == Decimal("30.00")


def test_entry_outlives_no_invalidation_even_when_stamps_are_written_later(redis):
    """An entry is served only while none of its dependencies moved past its asof."""
    key = keys.response_key("/t/", "", "")
    asof = store.read(key).asof
    assert store.fill(key, asof, Fill(b"v1", [("x.y", "1")]), ttl=60)
    assert store.read(key).payload == b"v1"
    store.stamp([("x.y", "2")])  # another row: still served
    assert store.read(key).payload == b"v1"
    store.stamp([("x.y", "1")])
    assert store.read(key).hit is False


@pytest.mark.parametrize("moved", [0, 511, 512, 1199])
def test_every_one_of_many_rows_of_one_table_is_checked(redis, moved):
    """A page's rows of one table are checked with one HMGET per slice of 512:
    a stamp on any of them, at either edge of a slice, makes the entry stale."""
    key = keys.response_key("/rows/", "", "")
    rows = [("x.y", str(pk)) for pk in range(1200)]
    asof = store.read(key).asof
    assert store.fill(key, asof, Fill(b"page", [*rows, ("x.z", "#")]), ttl=60)
    store.stamp([("x.y", "unrelated")])
    assert store.read(key).payload == b"page"
    store.stamp([rows[moved]])
    assert store.read(key).hit is False
    assert store.fill(key, asof, Fill(b"page", rows), ttl=60) is False  # FILL too


def test_clock_survives_redis_losing_it(redis):
    """A reader's asof from before the clock was lost stays below new stamps."""
    key = keys.response_key("/t2/", "", "")
    shard = keys.shard_of(key)
    asof = store.now(shard)
    redis.delete(keys.clock_key(shard))
    store.stamp([("x.y", "1")])
    assert store.now(shard) > asof
    assert store.fill(key, asof, Fill(b"old", [("x.y", "1")]), ttl=60) is False


def test_one_of_many_concurrent_misses_computes(redis):
    """I16: K readers miss one key together; the leader computes, the rest wait."""
    calls = []
    results = []
    key = keys.response_key("/stampede/", "", "")

    def compute():
        calls.append(1)
        time.sleep(0.2)
        return b"value"

    def reader():
        outcome = store.fetch(
            key, compute, encode=lambda v: Fill(v, [("x.y", "#")]), decode=bytes
        )
        results.append(outcome)

    threads = [threading.Thread(target=reader) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert [r.value for r in results] == [b"value"] * 20
    assert sum(r.status == CacheStatus.HIT for r in results) == 19


def test_a_read_sent_again_finds_its_own_lease(redis, monkeypatch):
    """A read whose connection broke after Redis ran it is sent again
    (client._sent); it must still be the leader, not wait on its own lease as
    a follower would. Another reader's token stays a follower."""
    key = keys.response_key("/lease/again/")
    monkeypatch.setattr(entries._tokens, "next", lambda: "same-read")
    first = store.read(key)
    again = store.read(key)
    assert (first.leader, again.leader) == (True, True)
    monkeypatch.setattr(entries._tokens, "next", lambda: "another-read")
    assert store.read(key).leader is False


def test_followers_fall_back_to_the_database_when_the_leader_is_slow(redis, settings):
    settings.CACHING = {**settings.CACHING, "LEASE_WAIT_MS": 50}
    key = keys.response_key("/slow/", "", "")
    assert store.read(key).leader is True  # a leader that never fills
    started = time.monotonic()
    outcome = store.fetch(key, lambda: b"fallback", encode=lambda v: None, decode=bytes)
    assert outcome.value == b"fallback"
    assert outcome.status == CacheStatus.MISS
    assert time.monotonic() - started < 1


def test_invalidation_reports_the_newest_row_stamp_it_replaced(redis):
    first = store.invalidate_wire(redis, "x.y|1")
    store.stamp([("x.y", "#")])  # a table stamp: not a row's
    stamped = store.invalidate_wire(redis, "x.y|#;x.y|1;x.y|2")
    assert stamped.replaced == first.stamps  # in every shard
    assert all(new > old for new, old in zip(stamped.stamps, first.stamps, strict=True))


def test_fill_from_the_written_row_is_refused_when_anything_moved_since_its_read(
    redis,
):
    """Stored as of the writer's own stamp only if no other stamp on its
    dependencies is newer than the read (FILL_WRITTEN), and not below a floor."""
    key = keys.response_key("/w/", "", "")
    shard = keys.shard_of(key)
    value = Fill(b"written", [("x.y", "1"), ("x.z", "9")])

    def write(wire: str) -> int:  # this shard's stamp of the write
        return store.invalidate_wire(redis, wire).stamps[shard]

    base = store.now(shard)
    own = write("x.y|1")
    assert store.fill_written([(key, value)], base, own)
    assert store.read(key).payload == b"written"
    assert store.read(key).asof == own

    redis.delete(key)
    base = store.now(shard)
    write("x.z|9")  # another write, between the read and own
    own = write("x.y|1")
    assert not store.fill_written([(key, value)], base, own)
    assert store.read(key).hit is False

    base = store.now(shard)
    own = write("x.y|1")
    redis.set(keys.floor_key(shard), own + 1)  # a failover fenced older reads
    assert not store.fill_written([(key, value)], base, own)


def test_lease_tokens_are_unique_in_a_process_and_across_a_fork(redis):
    """A lease names its reader: the tokens of one process never repeat, and a
    forked worker does not repeat its parent's (it would release their lease)."""
    key = keys.response_key("/tokens/", "", "")
    mine = [store.read(key).token for _ in range(3)]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a forked worker's first tokens
        os.close(read_end)
        os.write(write_end, entries._tokens.next().encode())
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 100).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    mine.append(entries._tokens.next())
    assert len(set(mine + [child])) == 5
    assert not child.startswith(mine[0][:12])  # a prefix of its own


def test_the_client_follows_the_caches_setting(redis, settings):
    """The client is looked up once, and again when CACHES changes (a test's or
    a reconfigured process's): never a client of the previous settings."""
    assert client.connection() is client.connection() is redis
    settings.CACHES = {"default": {**settings.CACHES["default"], "TIMEOUT": 301}}
    assert client.connection() is get_redis_connection("default")
    assert client.connection() is not redis
