"""
The main thread's own Redis connection (caching.store.client.direct), on one
Redis server: what it sends is what redis-py would send.
"""

from __future__ import annotations

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
