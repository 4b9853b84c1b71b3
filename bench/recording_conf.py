"""
gunicorn settings for bench.under_load: make run's (project/gunicorn_conf.py)
plus a record of every request a worker answered, written to
BENCH_RECORD_DIR/<pid>.tsv: when it ended, its method and X-Cache, and the
worker's wall time, CPU time and context switches (voluntary: it waited on
PostgreSQL, Redis or the socket; involuntary: the scheduler preempted it) from
the request's first byte read to its last byte written. Bench only: the app
itself is not changed.
"""

import os
import resource
import time
from pathlib import Path

from project.gunicorn_conf import *  # noqa: F403  (make run's settings)

_RECORDS = Path(os.environ.get("BENCH_RECORD_DIR", "var/bench-records"))
_pending: list[str] = []


def _now() -> tuple[float, float, int, int]:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return time.perf_counter(), time.thread_time(), usage.ru_nvcsw, usage.ru_nivcsw


def pre_request(worker, req):
    req.bench_started = _now()


def post_request(worker, req, environ, resp):
    wall, cpu, waits, preempted = (
        end - start for end, start in zip(_now(), req.bench_started, strict=True)
    )
    cache = next((v for k, v in resp.headers if k.lower() == "x-cache"), "-")
    _pending.append(
        f"{time.time():.4f}\t{req.method}\t{cache}\t{wall * 1e6:.0f}\t"
        f"{cpu * 1e6:.0f}\t{waits}\t{preempted}\n"
    )
    if len(_pending) >= 512:
        _flush()


def worker_exit(server, worker):
    _flush()


def _flush() -> None:
    _RECORDS.mkdir(parents=True, exist_ok=True)
    with open(_RECORDS / f"{os.getpid()}.tsv", "a") as out:
        out.writelines(_pending)
    _pending.clear()
