"""
Each thread's own Redis connection (caching.store.client.direct), on one
Redis server: what it sends is what redis-py would send; a thread keeps its
own, and hands it back when it ends.
"""

from __future__ import annotations

import gc
import threading

import pytest
from hiredis import pack_command
from redis.exceptions import ResponseError

from caching import store
from caching.store import Fill, client, keys


def test_the_own_connection_sends_what_redis_py_would(redis):
    """The hit path packs its EVALSHA with hiredis itself: the same bytes as
    redis-py's packer, for one command and for a pipeline of them."""
    conn = redis.connection_pool.get_connection()
    try:
        one = [("EVALSHA", "f" * 40, 2, "k:é", "k:lease", b"\x00\xff\n", 3000, "")]
        many = [*one, ("EVALSHA", "e" * 40, 1, "k2", b"x" * 10_000)]
        assert b"".join(client._packed(conn, one)) == b"".join(
            conn.pack_command(*one[0])
        )
        assert b"".join(client._packed(conn, many)) == b"".join(
            conn.pack_commands(many)
        )
        two_words = [("CONFIG GET", "maxmemory")]  # redis-py splits the name
        assert client._packed(conn, two_words) == conn.pack_command(*two_words[0])
    finally:
        redis.connection_pool.release(conn)
    # And through the main thread's own connection, to the real server:
    script = "return {ARGV[1], ARGV[2]}"
    sha = redis.script_load(script)
    reply = client.direct(redis, "EVALSHA", sha, 0, b"\x00\xff\r\n", "é")
    assert reply == [b"\x00\xff\r\n", "é".encode()]


def test_replies_read_from_one_packet_keep_the_connection_in_step(redis):
    """direct_packed reads the replies that came together from hiredis's
    buffer: an error reply among them is raised once all are read, so the
    next command on the same connection gets its own reply, not a late one."""
    commands = [
        ("SET", "own:a", "1"),
        ("HGET", "own:a", "field"),  # WRONGTYPE: an error reply, second of three
        ("GET", "own:a"),
    ]
    packed = b"".join(pack_command(command) for command in commands)
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        client.direct_packed(redis, packed, len(commands))
    used = client._own.held.conn
    assert client._buffered(used) is not None  # the replies after the first
    assert client.direct(redis, "ECHO", "next") == b"next"
    assert client._own.held.conn is used  # kept: the error was a reply, not a fault
    replies = client.direct_packed(
        redis, b"".join(pack_command(c) for c in [commands[0], commands[2]]), 2
    )
    assert replies == [b"OK", b"1"]  # as sent: no response callbacks
    redis.delete("own:a")


def test_a_push_message_among_the_replies_is_not_taken_for_one(redis):
    """With RESP3 a server may send push messages between replies; read from
    the buffer, one goes to redis-py's push handler, as read_response sends it,
    and the replies stay in step. Client-side tracking makes Redis push an
    invalidation when this very connection changes a key it read."""
    conn, _ = client._checkout(redis)
    if conn.protocol not in (3, "3"):
        pytest.skip("push messages are RESP3's")
    pushed: list = []
    conn._parser.invalidation_push_handler_func = pushed.append
    commands = [("GET", "own:t"), ("SET", "own:t", "y"), ("GET", "own:t")]
    try:
        assert client.direct(redis, "CLIENT", "TRACKING", "on") == b"OK"
        packed = b"".join(pack_command(command) for command in commands)
        assert client.direct_packed(redis, packed, 3) == [None, b"OK", b"y"]
        assert client.direct(redis, "ECHO", "next") == b"next"
    finally:
        client.direct(redis, "CLIENT", "TRACKING", "off")
        conn._parser.invalidation_push_handler_func = None
        redis.delete("own:t")
    assert pushed  # the invalidation came, and went to the handler


def in_thread(work):
    """Run work in a new thread; return what it returned, once the thread has
    ended (and dropped what it kept for itself)."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    gc.collect()
    return result[0]


def test_each_thread_keeps_a_connection_and_hands_it_back_when_it_ends(redis):
    """A threaded server's threads (gunicorn's gthread) read on connections of
    their own, as a sync worker's main thread does: one per thread, kept from
    one command to the next; a thread that ends returns its connection to the
    pool, so threads that come and go (runserver's) leave none checked out."""
    pool = redis.connection_pool
    assert client.direct(redis, "ECHO", "main") == b"main"
    mine = client._own.held.conn

    def two_commands():
        assert client.direct(redis, "ECHO", "a") == b"a"
        first = client._own.held.conn
        assert client.direct_many(redis, [("ECHO", "b"), ("ECHO", "c")]) == [
            b"b",
            b"c",
        ]
        assert client._own.held.conn is first  # kept, not checked out again
        return first, len(pool._in_use_connections)

    theirs, in_use = in_thread(two_commands)
    assert theirs is not mine
    assert theirs in pool._available_connections  # handed back
    assert theirs not in pool._in_use_connections
    assert len(pool._in_use_connections) == in_use - 1
    assert client._own.held.conn is mine  # the main thread's stays its own
    again, _ = in_thread(two_commands)
    assert again is theirs  # the pool's, reused: no new socket per thread


def test_threads_reading_at_once_each_get_their_own_replies(redis):
    """Threads sending at the same time on their own connections never read
    one another's replies."""
    errors: list[str] = []

    def reader(n: int) -> None:
        for i in range(200):
            word = f"t{n}-{i}"
            packed = pack_command(("ECHO", word)) + pack_command(("ECHO", word + "!"))
            replies = client.direct_packed(redis, packed, 2)
            if replies != [word.encode(), (word + "!").encode()]:
                errors.append(f"{word}: {replies}")

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_kept_connection_the_server_closed_is_replaced_not_a_failure(redis):
    """A thread keeps its connection between requests; the server may close it
    meanwhile (its idle ``timeout``, ``CLIENT KILL``, a restart). The next read
    goes on a new connection: it answers from the cache, and the breaker
    stays closed, as it would through redis-py's pool."""
    key = keys.response_key("/own/killed/")
    lookup = store.read(key)
    assert store.fill(key, lookup.asof, Fill(b"v1", []), ttl=60, token=lookup.token)
    assert store.read(key).hit
    killed = client.direct(redis, "CLIENT", "ID")
    redis.client_kill_filter(_id=killed)
    assert store.read(key).hit
    assert not client.breaker.is_open
    assert client.direct(redis, "CLIENT", "ID") != killed  # a new connection
