"""gunicorn settings for `make run`; the master owns the embedded Redis."""

import os
from pathlib import Path

from dotenv import load_dotenv

_BASE = Path(__file__).resolve().parent.parent
load_dotenv(_BASE / ".env")

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = os.environ.get("ACCESS_LOG", "-") or None  # "" turns it off (bench)
timeout = 30

_SOCKET = _BASE / "var" / "redis.sock"

# Metrics of all workers are added up from files (prometheus_client multiprocess).
_METRICS = _BASE / "var" / "prometheus"
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_METRICS))


def on_starting(server):
    metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    if not os.environ.get("REDIS_URL"):
        from caching import embedded

        embedded.ensure_running(_SOCKET)


def on_exit(server):
    from caching import embedded

    embedded.stop()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
