"""
Bench-only instrumentation, shared by the in-process benches (bench.costs,
bench.list_miss, bench.miss_cost, bench.rereads, bench.tail): nothing here runs
in the app.
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Callable
from typing import Any


def count_round_trips() -> dict[str, int]:
    """Count the Redis round trips of this thread from now on, in the returned
    dict's "n".

    Every command and every pipeline leaves as one packed write on a
    connection, whichever redis-py path sent it (the hit path's own connection
    included), so counting those writes counts round trips. Only this thread's:
    the outbox watcher's thread polls and compacts on its own clock, not per
    request (counted, it made W2's hits look like 1.03 round trips each).
    """
    from redis.connection import AbstractConnection

    trips = {"n": 0}
    send = AbstractConnection.send_packed_command
    requests_thread = threading.get_ident()

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == requests_thread:
            trips["n"] += 1
        return send(self, *args, **kwargs)

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
    return trips


def wsgi_response(
    app: Callable,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send one request to a WSGI application, as gunicorn would; return the
    status code, the headers and the body."""
    raw_path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": raw_path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_ACCEPT": "*/*",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    started: list[tuple[str, list[tuple[str, str]]]] = []
    chunks = app(environ, lambda *response, exc_info=None: started.append(response))
    try:
        content = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    status, response_headers = started[0]
    return int(status[:3]), dict(response_headers), content


def send_line(
    app: Callable, line: str, token: dict[str, str], *, auth_all: bool = False
) -> tuple[str, int, dict[str, str]]:
    """Send one of make bench's workload lines ("GET /path", "PATCH /path
    {json}") to a WSGI application, with the token on writes (on every request
    with auth_all); return the method, the status code and the headers."""
    method, path, *body = line.split(" ", 2)
    headers = token if (auth_all or method != "GET") else {}
    payload = body[0].encode() if body else b""
    status, response_headers, _ = wsgi_response(app, method, path, payload, headers)
    return method, status, response_headers


def in_process_environment() -> None:
    """Default the environment of an in-process bench to make bench's data
    (shop_bench, Redis database 14) and a production-like Django (no debug,
    the bench's hosts, quiet cache logs); what is set already stays."""
    os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/shop_bench")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    os.environ.setdefault("CACHE_LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
