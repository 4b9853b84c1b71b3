"""gunicorn settings for `make run`; the master owns the embedded Redis."""

import os
from pathlib import Path

from dotenv import load_dotenv

_BASE = Path(__file__).resolve().parent.parent
load_dotenv(_BASE / ".env")

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
timeout = 30

_SOCKET = _BASE / "var" / "redis.sock"


def on_starting(server):
    if not os.environ.get("REDIS_URL"):
        from caching import embedded

        embedded.ensure_running(_SOCKET)


def on_exit(server):
    from caching import embedded

    embedded.stop()
