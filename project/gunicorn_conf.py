"""gunicorn settings for `make run`; the master owns the embedded Redis."""

import os
from pathlib import Path

from dotenv import load_dotenv

_BASE = Path(__file__).resolve().parent.parent
load_dotenv(_BASE / ".env")

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Two per core: a sync worker waiting on Redis or PostgreSQL leaves its core to
# another (with one per core, a quarter of the CPU sat idle under load).
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * len(os.sched_getaffinity(0)))
accesslog = os.environ.get("ACCESS_LOG", "-") or None  # "" turns it off (bench)
# The same lines as gunicorn's default access log, at a fraction of its cost.
logger_class = "project.accesslog.AccessLog"
timeout = 30
# Query strings of 8 KB and more reach the app, which answers above 16 KB with
# a JSON 414 (project.middleware); gunicorn's C parser (gunicorn_h1c) still caps
# a request line at 1 MB when this is 0.
limit_request_line = 0
# gunicornc's control socket would be one path for every instance on the host
# ($HOME/.gunicorn/gunicorn.ctl): two `make run`s would take each other's.
control_socket_disable = True

_SOCKET = Path(os.environ.get("EMBEDDED_REDIS_SOCKET") or _BASE / "var" / "redis.sock")

# Metrics of all workers are added up from files (prometheus_client multiprocess).
_METRICS = _BASE / "var" / "prometheus"
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_METRICS))


def on_starting(server):
    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    if not os.environ.get("REDIS_URL"):
        from caching.store import embedded

        embedded.ensure_running(_SOCKET)


def on_exit(server):
    from caching.store import embedded

    embedded.stop()


def post_worker_init(worker):
    # Everything loaded so far (Django, the apps, the URLconf) lives as long as
    # the worker: out of the collector's sight, a full collection no longer
    # walks it, which took milliseconds from whichever request it fell on.
    import gc

    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
