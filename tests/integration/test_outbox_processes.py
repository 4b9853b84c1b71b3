"""
Invalidations across processes (CONTRACT 4.6), with real server processes, a
writer process that exits, and a TCP proxy that cuts Redis:

- after a full outage, a write made meanwhile by a process that has exited is
  never served stale, not even by the server's first read (its new connection
  applies the stranded outbox rows before its first command);
- when only the writer is cut off, the others serve its change within 1 s of its
  commit (each server process's outbox watcher applies the rows).
"""

from __future__ import annotations

import os
import statistics
import time
from urllib.parse import urlparse

import httpx
import pytest
from django.conf import settings

from caching.models import PendingInvalidation
from catalog.models import Product
from tests.conftest import token_client
from tests.proxy import RedisProxy
from tests.servers import AppServer, run_django

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]


@pytest.fixture
def cut_redis():
    """A proxy to the test Redis, and the REDIS_URL that goes through it."""
    url = urlparse(settings.REDIS_URL)
    if url.scheme == "unix":
        proxy, db = RedisProxy(unix=url.path), "0"
    else:
        proxy = RedisProxy(host=url.hostname, port=url.port or 6379)
        db = url.path.strip("/") or "0"
    yield proxy, f"{proxy.url}/{db}"
    proxy.close()


@pytest.fixture
def servers(tmp_path):
    started: list[AppServer] = []

    def start(**env: str) -> AppServer:
        started.append(AppServer(tmp_path, **env))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def hit(url: str, **kwargs) -> httpx.Response:
    httpx.get(url, **kwargs)
    response = httpx.get(url, **kwargs)
    assert response.headers["X-Cache"] == "HIT", url
    return response


def test_first_read_after_an_outage_sees_a_write_of_an_exited_process(
    servers, cut_redis, product
):
    proxy, through_proxy = cut_redis
    # No watcher: only the check of each new connection can save the first read.
    server = servers(REDIS_URL=through_proxy, CACHE_OUTBOX_POLL="0")
    detail = f"{server.url}/api/products/{product.pk}/"
    listing = f"{server.url}/api/products/"
    hit(detail)
    hit(listing)
    proxy.cut()
    run_django(
        "from catalog.models import Product\n"
        f"Product.objects.filter(pk={product.pk}).update(price='55.00')\n"
        f"p = Product.objects.get(pk={product.pk}); p.name = 'Saved'; p.save()\n",
        REDIS_URL=through_proxy,
    )  # and the process exits
    assert PendingInvalidation.objects.filter(stranded=True).count() == 2
    proxy.restore()
    first = httpx.get(detail).json()
    assert (first["name"], first["price"]) == ("Saved", "55.00")
    listed = httpx.get(listing).json()["results"][0]
    assert (listed["name"], listed["price"]) == ("Saved", "55.00")
    assert PendingInvalidation.objects.count() == 0


def test_a_transaction_committed_during_an_outage_is_applied_first(
    servers, cut_redis, product
):
    proxy, through_proxy = cut_redis
    server = servers(REDIS_URL=through_proxy, CACHE_OUTBOX_POLL="0")
    detail = f"{server.url}/api/products/{product.pk}/"
    hit(detail)
    proxy.cut()
    run_django(
        "from django.db import transaction\n"
        "from catalog.models import Product\n"
        "with transaction.atomic():\n"
        f"    Product.objects.filter(pk={product.pk}).update(stock=0)\n",
        REDIS_URL=through_proxy,
    )
    proxy.restore()
    assert httpx.get(detail).json()["stock"] == 0


def test_others_serve_a_cut_off_writers_change_within_a_second(
    servers, cut_redis, staff_user, product
):
    proxy, through_proxy = cut_redis
    reader = servers()  # on Redis
    writer = servers(REDIS_URL=through_proxy)  # cut off from Redis
    proxy.cut()
    token = token_client(staff_user)._credentials["HTTP_AUTHORIZATION"]
    detail = f"{reader.url}/api/products/{product.pk}/"
    delays = []
    for trial in range(20):
        hit(detail)
        price = f"{100 + trial}.00"
        patch = httpx.patch(
            f"{writer.url}/api/products/{product.pk}/",
            json={"price": price},
            headers={"Authorization": token},
        )
        assert patch.status_code == 200
        committed = time.monotonic()
        while httpx.get(detail).json()["price"] != price:
            assert time.monotonic() - committed < 5, "never served"
        delays.append(time.monotonic() - committed)
    print(
        f"cut-off writer, 20 trials: max {max(delays) * 1000:.0f} ms, "
        f"median {statistics.median(delays) * 1000:.0f} ms"
    )
    assert max(delays) < 1.0
    assert Product.objects.get(pk=product.pk).price == 119


def test_a_server_forgets_its_applied_rows_at_its_watchers_next_poll(
    servers, staff_user, product
):
    """A writer that reached Redis leaves its outbox row to its process's
    watcher, deleted within a poll: the read after the write is fresh at once,
    and the row is gone long before anyone would take it for abandoned."""
    server = servers()  # the watcher polls every 0.2 s
    token = token_client(staff_user)._credentials["HTTP_AUTHORIZATION"]
    detail = f"{server.url}/api/products/{product.pk}/"
    for trial in range(5):
        hit(detail)
        price = f"{300 + trial}.00"
        patch = httpx.patch(detail, json={"price": price},
                            headers={"Authorization": token})  # fmt: skip
        assert patch.status_code == 200
        assert httpx.get(detail).json()["price"] == price
    deadline = time.monotonic() + 2
    while PendingInvalidation.objects.exists():
        assert time.monotonic() < deadline, "applied rows left in the outbox"
        time.sleep(0.05)


def test_settled_rows_wait_for_the_watcher_and_are_not_pending(monkeypatch, product):
    """In a process with a watcher, the write's request does not delete its
    applied row (one statement and commit fewer); the row is not stranded work
    for anyone meanwhile, and the watcher's poll deletes it."""
    from django.db import OperationalError, connection, transaction
    from django.test.utils import CaptureQueriesContext

    from caching.orm import outbox

    monkeypatch.setattr(outbox, "_watcher", (os.getpid(), None))
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        Product.objects.filter(pk=product.pk).update(stock=7)
    assert not any(q["sql"].startswith("DELETE") for q in queries.captured_queries)
    assert PendingInvalidation.objects.count() == 1
    assert not outbox.pending()

    def unreachable(rows, **kwargs):
        raise OperationalError("the database is away")

    with monkeypatch.context() as patched:
        patched.setattr(outbox, "done", unreachable)
        outbox._forget_settled()  # kept for the next poll
    assert PendingInvalidation.objects.count() == 1
    outbox._forget_settled()
    assert PendingInvalidation.objects.count() == 0


def test_a_process_exiting_between_polls_forgets_what_it_settled(product):
    """The rows a process settled are deleted as it exits, not left to be
    taken for abandoned and applied again by another process."""
    run_django(
        "from django.db import transaction\n"
        "from caching.orm import outbox\n"
        "from catalog.models import Product\n"
        "assert outbox.start_watcher()\n"  # polls in a minute: not before exit
        "with transaction.atomic():\n"
        f"    Product.objects.filter(pk={product.pk}).update(stock=3)\n"
        "from caching.models import PendingInvalidation\n"
        "assert PendingInvalidation.objects.count() == 1\n",
        CACHE_OUTBOX_POLL="60",
    )
    assert PendingInvalidation.objects.count() == 0


def test_a_server_stopped_between_polls_forgets_what_it_settled(
    servers, staff_user, product
):
    server = servers(CACHE_OUTBOX_POLL="60")  # no poll before the stop
    token = token_client(staff_user)._credentials["HTTP_AUTHORIZATION"]
    patch = httpx.patch(
        f"{server.url}/api/products/{product.pk}/",
        json={"stock": 5},
        headers={"Authorization": token},
    )
    assert patch.status_code == 200
    assert PendingInvalidation.objects.count() == 1  # settled, not yet deleted
    server.stop()  # gunicorn's graceful stop: each worker exits
    assert PendingInvalidation.objects.count() == 0


def test_the_watcher_keeps_its_database_connection_between_polls(product):
    """A poll every 20 ms for 1.5 s, one connection: a new one per poll cost a
    millisecond of the worker's CPU (holding the GIL from its requests) and a
    PostgreSQL backend."""
    out = run_django(
        "import threading, time\n"
        "from django.db.backends.signals import connection_created\n"
        "from caching.orm import outbox\n"
        "polls, opened = [], []\n"
        "real = outbox.stranded\n"
        "def counted(*args, **kwargs):\n"
        "    polls.append(1)\n"
        "    return real(*args, **kwargs)\n"
        "outbox.stranded = counted\n"
        "def created(sender, connection, **kwargs):\n"
        "    opened.append(threading.current_thread().name)\n"
        "connection_created.connect(created, weak=False)\n"
        "assert outbox.start_watcher()\n"
        "time.sleep(1.5)\n"
        "print(len(polls), opened.count('caching-outbox'))\n",
        CACHE_OUTBOX_POLL="0.02",
    )
    polls, connections_opened = map(int, out.split()[-2:])
    assert polls >= 20
    assert connections_opened == 1
