"""
Fixtures shared by the suite. Everything runs against the real database of
DATABASE_URL (SQLite by default) and the real Redis of REDIS_URL (the embedded
one by default): no fakes of either.
"""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from caching.store import client as cache_client
from tests.factories import CategoryFactory, ProductFactory, TagFactory, UserFactory


@pytest.fixture(autouse=True)
def clean_cache(cache_clean):
    """Every test starts and ends with none of this app's keys and closed
    breakers (caching.testing's cache_clean)."""


@pytest.fixture
def redis():
    return cache_client.connection()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def token_client(user) -> APIClient:
    api = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


@pytest.fixture
def user(db):
    return UserFactory(username="alice", email="alice@example.com")


@pytest.fixture
def other_user(db):
    return UserFactory(username="bob", email="bob@example.com")


@pytest.fixture
def staff_user(db):
    return UserFactory(username="staff", email="staff@example.com", is_staff=True)


@pytest.fixture
def user_client(user) -> APIClient:
    return token_client(user)


@pytest.fixture
def other_client(other_user) -> APIClient:
    return token_client(other_user)


@pytest.fixture
def staff_client(staff_user) -> APIClient:
    return token_client(staff_user)


@pytest.fixture
def category(db):
    return CategoryFactory(name="Books", slug="books")


@pytest.fixture
def tag(db):
    return TagFactory(name="Sale", slug="sale")


@pytest.fixture
def product(db, category, tag):
    return ProductFactory(
        sku="BOOK-1", name="Dune", price="12.50", stock=3, category=category, tags=[tag]
    )


def pytest_sessionfinish(session, exitstatus):
    """Stop the embedded Redis this test session started (make test leaves
    nothing running), whatever clients are still connected to it."""
    from caching.store import embedded

    embedded.stop(force=True)


def pytest_sessionstart(session):
    """The test process runs no outbox watcher (caching.orm.outbox): a test
    that cuts Redis counts the rows an outage leaves, which a watcher started
    by an earlier test's WSGI requests would apply under it. The servers tests
    start (their own settings) run theirs."""
    from django.conf import settings
    from django.test import override_settings

    override_settings(CACHING={**settings.CACHING, "OUTBOX_POLL": 0}).enable()
