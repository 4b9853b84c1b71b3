"""
Rereads (caching.store.rereads): once this process has read an entry as a hit,
the next read of it is one MULTI/EXEC instead of the READ script, and it serves
exactly what the script would serve: each way the script refuses an entry, the
reread refuses it too, and the read goes on as a script miss (lease taken,
counted as a miss, the reread's hit taken back).
"""

from __future__ import annotations

import threading

import pytest
from redis.connection import AbstractConnection

from caching import store
from caching.ops.stats import read_counters
from caching.store import Fill, codec, keys, rereads

pytestmark = pytest.mark.django_db

GROUP = "test:rereads"
DEPS = [("x.book", "1"), ("x.book", "*"), ("x.shelf", "7"), ("x.label", "3")]


@pytest.fixture
def sent(monkeypatch) -> list[bytes]:
    """What this thread sends to Redis, one item per round trip."""
    sent: list[bytes] = []
    send = AbstractConnection.send_packed_command

    def recorded(self, command, *args, **kwargs):
        if threading.current_thread() is threading.main_thread():
            parts = [command] if isinstance(command, bytes | str) else command
            sent.append(
                b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
            )
        return send(self, command, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", recorded)
    return sent


def filled(path: str, deps=DEPS, payload: bytes = b"v1") -> str:
    key = keys.response_key(path)
    asof = store.read(key, lease=False).asof
    assert store.fill(key, asof, Fill(payload, deps), ttl=60)
    return key


def seen(path: str, **kwargs) -> str:
    """An entry read once as a hit: this process keeps its reread."""
    key = filled(path, **kwargs)
    assert store.read(key, group=GROUP).hit
    assert rereads.find(key, GROUP) is not None
    return key


def test_a_hit_seen_before_is_one_transaction_without_the_script(redis, sent):
    key = filled("/book/")
    first = store.read(key, group=GROUP)
    assert first.hit
    assert b"EVALSHA" in sent[-1]
    del sent[:]

    again = store.read(key, group=GROUP)

    assert again.hit
    assert (again.payload, again.asof) == (b"v1", first.asof)
    assert len(sent) == 1  # one round trip
    assert sent[0].startswith(b"*1\r\n$5\r\nMULTI")
    assert b"EVALSHA" not in sent[0]
    assert read_counters()[f"hit:{GROUP}"] == 2


def refuse_by_stamp(redis, key):
    store.stamp([("x.shelf", "7")])


def refuse_by_table_stamp(redis, key):
    store.stamp([("x.book", "*")])


def refuse_by_floor(redis, key):
    shard = keys.shard_of(key)
    redis.set(keys.floor_key(shard), store.now(shard) + 1)


def refuse_by_expiry(redis, key):
    redis.delete(key)


def refuse_forged(redis, key):
    asof, deps, _ = redis.get(key).split(b"\n", 2)
    redis.set(key, asof + b"\n" + deps + b"\n" + b"\x00" * codec.TAG + b"forged")


@pytest.mark.parametrize(
    "refuse",
    [
        refuse_by_stamp,
        refuse_by_table_stamp,
        refuse_by_floor,
        refuse_by_expiry,
        refuse_forged,
    ],
)
def test_what_the_script_refuses_a_reread_refuses(redis, refuse):
    key = seen("/book/")
    refuse(redis, key)

    lookup = store.read(key, group=GROUP)

    assert not lookup.hit
    assert lookup.leader  # the script ran: the reader holds the fill lease
    assert lookup.asof == store.now(keys.shard_of(key))
    counters = read_counters()
    assert counters[f"hit:{GROUP}"] == 1  # the first read's; the reread's taken back
    assert counters[f"miss:{GROUP}"] == 1


def test_a_stamp_on_an_unrelated_row_leaves_the_entry_served(redis):
    key = seen("/book/")
    store.stamp([("x.book", "2"), ("x.other", "1")])
    assert store.read(key, group=GROUP).hit


def test_an_entry_refilled_with_other_dependencies_is_checked_by_the_script(redis):
    """The reread read the stamps of the old dependencies only: a fresh entry
    naming others is still served, after the script checked it."""
    key = seen("/book/")
    redis.delete(key)
    refilled = [("x.book", "1"), ("x.author", "9")]
    assert store.fill(key, store.now(), Fill(b"v2", refilled), ttl=60)
    store.stamp([("x.shelf", "7")])  # stale for the old reread, not for the entry

    lookup = store.read(key, group=GROUP)

    assert lookup.hit
    assert lookup.payload == b"v2"
    assert read_counters()[f"hit:{GROUP}"] == 2
    store.stamp([("x.author", "9")])  # the new reread reads the new dependencies
    assert not store.read(key, group=GROUP).hit


def test_an_entry_refilled_with_other_dependencies_is_not_judged_by_the_old(redis):
    key = seen("/book/")
    redis.delete(key)
    assert store.fill(key, store.now(), Fill(b"v2", [("x.author", "9")]), ttl=60)
    store.stamp([("x.author", "9")])  # stale by a dependency the reread never read
    assert not store.read(key, group=GROUP).hit


def test_an_entry_without_dependencies(redis):
    key = seen("/constant/", deps=[])
    assert store.read(key, group=GROUP).hit
    refuse_by_floor(redis, key)
    assert not store.read(key, group=GROUP).hit


def test_a_page_of_many_rows_is_refused_for_any_one_of_them(redis):
    rows = [("x.book", str(pk)) for pk in range(1, 41)]
    key = seen("/books/", deps=[*rows, ("x.shelf", "#"), ("x.label", "*")])
    assert store.read(key, group=GROUP).hit
    store.stamp([("x.book", "23")])
    assert not store.read(key, group=GROUP).hit


def test_another_thread_rereads_on_its_own_connection(redis, monkeypatch):
    """Each thread keeps a connection for itself (a threaded server's too), so
    an entry this process has seen is reread from any thread: one MULTI/EXEC,
    no script, counted once."""
    key = seen("/book/")
    sent: list[bytes] = []
    send = AbstractConnection.send_packed_command

    def recorded(self, command, *args, **kwargs):
        sent.append(command if isinstance(command, bytes) else b"".join(command))
        return send(self, command, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", recorded)
    found = []
    reader = threading.Thread(target=lambda: found.append(store.read(key, group=GROUP)))
    reader.start()
    reader.join()
    assert found[0].hit
    assert len(sent) == 1  # one round trip
    assert sent[0].startswith(b"*1\r\n$5\r\nMULTI")
    assert b"EVALSHA" not in sent[0]
    assert read_counters()[f"hit:{GROUP}"] == 2


def test_a_read_counted_under_another_group_is_no_reread(redis, sent):
    key = seen("/book/")
    del sent[:]
    assert store.read(key, group="other").hit
    assert b"EVALSHA" in sent[-1]
    assert read_counters()["hit:other"] == 1
