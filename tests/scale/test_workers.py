"""
Many processes: `make run`'s gunicorn with several workers, against the test
database and Redis. A write through one worker is seen by every worker at once,
and the hit counters of cache_stats add up across workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from caching import operations
from scripts import consistency
from tests.conftest import token_client
from tests.servers import free_port, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gunicorn(tmp_path):
    port = free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DATABASE_URL": consistency.database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": settings.CACHE_KEY_PREFIX,
        "PORT": str(port),
        "WEB_CONCURRENCY": "3",
        "ACCESS_LOG": str(log),
        "DJANGO_DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "project.wsgi:application",
         "-c", "project/gunicorn_conf.py", "--access-logformat", "%(p)s %(s)s"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: httpx.get(f"{base}/api/health/").status_code == 200, 30, "gunicorn"
    )
    yield base, log
    server.terminate()
    server.wait(timeout=30)


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
    groups = operations.stats()["groups"]["api:product-detail"]
    assert groups["hits"] == statuses.count("HIT")
    assert groups["misses"] == statuses.count("MISS")
