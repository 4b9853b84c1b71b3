"""
Many processes: `make run`'s gunicorn with several workers, against the test
database and Redis. A write through one worker is seen by every worker at once,
and the hit counters of cache_stats add up across workers.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from caching.ops import stats
from tests.conftest import token_client
from tests.servers import AppServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gunicorn(tmp_path):
    server = AppServer(
        tmp_path,
        workers=3,
        args=("--access-logformat", "%(p)s %(s)s"),
        ACCESS_LOG=str(tmp_path / "access.log"),
    )
    yield server.url, tmp_path / "access.log"
    server.stop()


def test_workers_see_each_others_writes_and_counters_add_up(
    gunicorn, staff_user, product
):
    base, log = gunicorn
    url = f"{base}/api/products/{product.pk}/"
    token = token_client(staff_user)._credentials["HTTP_AUTHORIZATION"]
    # A fresh connection per request: the kernel spreads them over the workers.
    statuses = [httpx.get(url).headers["X-Cache"] for _ in range(60)]
    response = httpx.patch(
        url, json={"price": "42.00"}, headers={"Authorization": token}
    )
    assert response.status_code == 200
    after = [httpx.get(url) for _ in range(60)]
    assert {r.json()["price"] for r in after} == {"42.00"}  # every worker, at once
    statuses += [r.headers["X-Cache"] for r in after]

    time.sleep(0.5)  # the access log is written after each response
    workers = {line.split()[0] for line in log.read_text().splitlines()}
    assert len(workers) >= 2, workers
    groups = stats.stats()["groups"]["api:product-detail"]
    assert groups["hits"] == statuses.count("HIT")
    assert groups["misses"] == statuses.count("MISS")
