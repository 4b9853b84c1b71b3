"""
One hot key, many concurrent misses (CONTRACT 4.5): 50 concurrent HTTP requests
to a real threaded server for a list page whose entry was just invalidated run
the database query once.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connections
from django.db.backends.signals import connection_created

from caching import store
from caching.orm import deps as dep
from tests.caching.testapp.factories import BookFactory
from tests.caching.testapp.models import Book

pytestmark = pytest.mark.django_db(transaction=True)


class BookQueries:
    """Count SQL statements that read the book table, on every connection."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, execute, sql, params, many, context):
        if Book._meta.db_table in sql and sql.lstrip().upper().startswith("SELECT"):
            with self.lock:
                self.count += 1
        return execute(sql, params, many, context)

    def install(self, sender=None, connection=None, **kwargs) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)


@pytest.fixture
def book_queries():
    counter = BookQueries()
    connection_created.connect(counter.install)
    for conn in connections.all(initialized_only=True):
        counter.install(connection=conn)
    yield counter
    connection_created.disconnect(counter.install)
    for conn in connections.all(initialized_only=True):
        if counter in conn.execute_wrappers:
            conn.execute_wrappers.remove(counter)


def test_fifty_concurrent_misses_query_once(live_server, book_queries, settings):
    # Followers wait for the leader, not fall back to the database.
    settings.CACHING = {**settings.CACHING, "LEASE_WAIT_MS": 10_000}
    BookFactory.create_batch(30)
    url = f"{live_server.url}/testapp/books/?ordering=-price&page=1"
    with httpx.Client() as client:
        assert client.get(url).headers["X-Cache"] == "MISS"
    queries_per_miss = book_queries.count
    assert queries_per_miss >= 1

    store.stamp(dep.for_models(Book))  # a write made the hot page stale
    book_queries.count = 0
    barrier = threading.Barrier(50)

    def fetch(_):
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            response = client.get(url)
            return response.status_code, response.headers["X-Cache"], response.content

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(fetch, range(50)))
    assert {status for status, _, _ in results} == {200}
    assert len({body for _, _, body in results}) == 1
    assert sorted(cache for _, cache, _ in results).count("MISS") == 1
    assert book_queries.count == queries_per_miss
