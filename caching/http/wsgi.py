"""
The WSGI side of the caching layer: wrap the project's application with it.

    application = caching.http.wsgi.CachedApplication(get_wsgi_application())

Each server process then runs the outbox watcher (caching.orm.outbox): invalidations
that a writer cut off from Redis left behind are applied within a poll of its
commit, by whichever process can reach Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from caching.orm import outbox

WSGIApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


class CachedApplication:
    """A WSGI application that starts this process's cache background work."""

    def __init__(self, application: WSGIApp) -> None:
        self.application = application

    def __call__(
        self, environ: dict, start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        outbox.start_watcher()  # once per process: a pid comparison after that
        return self.application(environ, start_response)
