"""
Invalidations that must not be lost: written to the database with the change,
applied to Redis after commit by the writer, and otherwise by any process.

A row is *stranded* when its writer could not reach Redis after the commit (or
died before trying, which shows as age). Three things drain stranded rows, so
that no process serves what a write made stale, whichever process wrote it:

- every new Redis connection checks the outbox before its first command
  (``pending()``, through ``client.check_new_connection``): after an outage,
  every connection is new, so no process reads before the rows are applied;
- the breaker's recovery hook, before a process resumes after an outage;
- a watcher thread in each server process (``start_watcher``) polls the table
  every ``CACHE_OUTBOX_POLL`` seconds: when only the writer was cut off, the
  others apply its rows within about one poll of its commit.

Each statement here is plain SQL on a table nothing else references:
Model.save() would run the save signals and field machinery, QuerySet.delete()
would SELECT the rows first.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta

from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from django.utils import timezone
from redis import Redis

from caching import client, conf, store
from caching.models import PendingInvalidation

logger = logging.getLogger("caching")
BATCH = 500
ABANDONED_AFTER = timedelta(seconds=5)  # a writer that died before applying


def _table(using: str) -> str:
    return connections[using].ops.quote_name(PendingInvalidation._meta.db_table)


def record(wire: str, *, using: str = DEFAULT_DB_ALIAS, stranded: bool = False) -> int:
    """Write a pending invalidation in the current transaction; return its id."""
    ops = connections[using].ops
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table(using)} (deps, stranded, created_at) "
            "VALUES (%s, %s, %s) RETURNING id",
            [wire, stranded, ops.adapt_datetimefield_value(timezone.now())],
        )
        return cursor.fetchone()[0]


def _where_ids(rows: list[int]) -> tuple[str, list[int]]:
    return f"id IN ({', '.join(['%s'] * len(rows))})", rows


def done(rows: list[int], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Forget pending invalidations that reached Redis."""
    where, params = _where_ids(rows)
    with connections[using].cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table(using)} WHERE {where}", params)


def strand(rows: list[int], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Mark rows whose writer could not reach Redis: anyone may apply them."""
    where, params = _where_ids(rows)
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(using)} SET stranded = %s WHERE {where}", [True, *params]
        )


def pending(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Return whether stranded (or abandoned) invalidations wait in the outbox.

    False when the database cannot tell (no table yet, no database access here).
    """
    conn = connections[using]
    opened = conn.connection is None  # e.g. a redis-py worker thread's check
    cutoff = conn.ops.adapt_datetimefield_value(timezone.now() - ABANDONED_AFTER)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {_table(using)} "
                "WHERE stranded = %s OR created_at < %s LIMIT 1",
                [True, cutoff],
            )
            return cursor.fetchone() is not None
    except Exception:  # noqa: BLE001  (DatabaseError, or a test's DB blocker)
        logger.debug("outbox unreadable", exc_info=True)
        return False
    finally:
        if opened and not conn.in_atomic_block:
            conn.close()  # not this thread's to keep


def drain(redis: Redis, *, using: str = DEFAULT_DB_ALIAS) -> int:
    """Apply every pending invalidation to Redis; return how many were applied.

    Raises the Redis error if Redis fails midway; what was not applied stays.
    Applying a row twice is harmless: stamps only go up.
    """
    applied = 0
    while True:
        try:
            rows = list(
                PendingInvalidation.objects.using(using).values_list("pk", "deps")[
                    :BATCH
                ]
            )
        except Exception:  # noqa: BLE001  (no table yet, or no database here)
            logger.debug("outbox unreadable", exc_info=True)
            return applied
        if not rows:
            return applied
        store.invalidate_wire(redis, ";".join(deps for _, deps in rows))
        done([pk for pk, _ in rows], using=using)
        applied += len(rows)
        logger.warning("applied %d invalidations left by a Redis outage", len(rows))


# --- the watcher ------------------------------------------------------------------

_watcher: tuple[int, threading.Thread] | None = None
_watcher_lock = threading.Lock()


def _watch(interval: float) -> None:
    from caching import compaction

    while True:
        time.sleep(interval)
        try:
            close_old_connections()
            if pending():
                client.run(drain, force=True)
            compaction.maybe_run()
        except client.CacheUnavailable:
            pass  # the breaker is open: reads bypass until a drain succeeds
        except Exception:  # noqa: BLE001  (a database hiccup: try next time)
            logger.exception("outbox watcher")


def start_watcher() -> bool:
    """Start this process's outbox watcher unless it runs; True if started.

    Called on every request by the WSGI application (caching.wsgi): a cheap pid
    check, so a forked worker starts its own.
    """
    global _watcher
    interval = conf.outbox_poll()
    if interval <= 0:
        return False
    pid = os.getpid()
    if _watcher is not None and _watcher[0] == pid:
        return False
    with _watcher_lock:
        if _watcher is not None and _watcher[0] == pid:
            return False
        thread = threading.Thread(
            target=_watch, args=(interval,), name="caching-outbox", daemon=True
        )
        thread.start()
        _watcher = (pid, thread)
    return True
