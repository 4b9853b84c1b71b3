"""Fixtures of the integration tests: what reached Django, what went to Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import httpx
import pytest
from django.core.signals import request_started

from caching.http.wsgi import CachedApplication, DjangoHandler
from tests.factories import ProductFactory


def project_client() -> httpx.Client:
    """A client of the project's WSGI application (its middleware as set now),
    with httpx's WSGI transport: what gunicorn calls."""
    app = CachedApplication(DjangoHandler())
    transport = httpx.WSGITransport(app=app)
    return httpx.Client(transport=transport, base_url="http://127.0.0.1")


@pytest.fixture
def new_http() -> Callable[[], httpx.Client]:
    """Make a client of the application as the settings are then."""
    return project_client


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with project_client() as client:
        yield client


@pytest.fixture
def catalog(category, tag) -> list:
    """Twenty products of one price: a page of a list ordered by price."""
    return ProductFactory.create_batch(
        20, category=category, tags=[tag], price=Decimal("5.00")
    )


@pytest.fixture
def handled() -> Iterator[list]:
    """The requests that reached Django's handler (their paths)."""
    seen: list = []

    def record(sender, environ, **kwargs):
        seen.append(environ["PATH_INFO"])

    request_started.connect(record)
    yield seen
    request_started.disconnect(record)


@pytest.fixture
def round_trips(monkeypatch) -> dict[str, int]:
    """Count Redis round trips in ["n"]: every command or pipeline leaves as
    one packed write on a connection, whichever path sent it."""
    from redis.connection import AbstractConnection

    sent = {"n": 0}
    send = AbstractConnection.send_packed_command

    def counted(self, *args, **kwargs):
        sent["n"] += 1
        return send(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
    return sent
