"""
The main thread's own Redis connection (caching.store.client.direct), on one
Redis server: what it sends is what redis-py would send.
"""

from __future__ import annotations

import pytest
from hiredis import pack_command
from redis.exceptions import ResponseError

from caching.store import client


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
    used = client._own.conn
    assert client._buffered(used) is not None  # the replies after the first
    assert client.direct(redis, "ECHO", "next") == b"next"
    assert client._own.conn is used  # kept: the error was a reply, not a fault
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
    conn = client._checkout(redis)
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
