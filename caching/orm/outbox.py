"""
Invalidations that must not be lost: written to the database with the change,
applied to Redis after commit by the writer, and otherwise by any process.
A row its writer applied is deleted by that process's watcher at its next poll,
with the others of the poll in one statement (``settle``), not by the write's
request.

A row is *stranded* when its writer could not reach Redis after the commit (or
died before trying, which shows as age). Three things drain stranded rows, so
that no process serves what a write made stale, whichever process wrote it:

- every new Redis connection, before its first command, applies them to the
  shards its server holds, on that connection (``apply_on_connection``, called
  by caching.store.fence): after an outage every connection is new, so no process
  reads before the rows are applied; on a cluster a dead node does not stop
  the others;
- the breaker's recovery hook, before a shard resumes after an outage;
- a watcher thread in each server process (``start_watcher``) polls the table
  every ``CACHE_OUTBOX_POLL`` seconds: when only the writer was cut off, the
  others apply its rows within about one poll of its commit.

Each statement here is plain SQL on a table nothing else references:
Model.save() would run the save signals and field machinery, QuerySet.delete()
would SELECT the rows first.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections
from django.utils import timezone
from redis import Redis

from caching import conf, store
from caching.models import PendingInvalidation
from caching.store import client, keys, scripts

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


def settle(rows: list[int], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Forget rows whose invalidation this process applied: at its watcher's
    next poll, in one statement with the others, where a watcher runs (the
    write's request saves a statement and a commit), else now. A row left over
    (the process died first) is applied again once abandoned: harmless."""
    if using == DEFAULT_DB_ALIAS and watching():
        with _settled_lock:
            _settled.extend(rows)
    else:
        done(rows, using=using)


def _forget_settled() -> None:
    with _settled_lock:
        rows = _settled[:]
        del _settled[:]
    for first in range(0, len(rows), BATCH):
        try:
            done(rows[first : first + BATCH])
        except Exception:  # noqa: BLE001  (a database hiccup: next poll)
            logger.debug("settled outbox rows kept", exc_info=True)
            with _settled_lock:
                _settled.extend(rows[first:])
            return


def strand(rows: list[int], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Mark rows whose writer could not reach Redis: anyone may apply them."""
    where, params = _where_ids(rows)
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"UPDATE {_table(using)} SET stranded = %s WHERE {where}", [True, *params]
        )


def stranded(
    using: str = DEFAULT_DB_ALIAS, limit: int = BATCH, *, keep_connection: bool = False
) -> list[tuple]:
    """Return (id, deps) of stranded (or abandoned) invalidations, oldest first.

    Empty when the database cannot tell (no table yet, no database access here).
    A connection this call opens is closed after it (a redis-py thread's check
    must not leave one behind) unless ``keep_connection``: the watcher's own.
    """
    conn = connections[using]
    opened = conn.connection is None and not keep_connection
    cutoff = conn.ops.adapt_datetimefield_value(timezone.now() - ABANDONED_AFTER)
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                f"SELECT id, deps FROM {_table(using)} "
                "WHERE stranded = %s OR created_at < %s ORDER BY id LIMIT %s",
                [True, cutoff, limit],
            )
            return list(cursor.fetchall())
    except Exception:  # noqa: BLE001  (DatabaseError, or a test's DB blocker)
        logger.debug("outbox unreadable", exc_info=True)
        return []
    finally:
        if opened and not conn.in_atomic_block:
            conn.close()  # not this thread's to keep


def pending(using: str = DEFAULT_DB_ALIAS, *, keep_connection: bool = False) -> bool:
    """Return whether stranded (or abandoned) invalidations wait in the outbox."""
    return bool(stranded(using, limit=1, keep_connection=keep_connection))


# The shards each pending row has reached through this process. A row waits in
# the outbox until every shard has it; meanwhile it is sent to the others only:
# stamping a shard again would void every entry filled there since (each retry
# of a breaker, each new connection of a pool). A shard whose server changed
# (failover, restart) needs nothing sent before: the fence's floor refuses
# every entry older than the new server, and newer entries read the write.
_applied: dict[int, set[int]] = {}


def _owed(rows: list[tuple], shards: Iterable[int]) -> dict[frozenset[int], list]:
    """Group rows by the shards (of those given) they have not reached yet."""
    groups: dict[frozenset[int], list] = {}
    for row in rows:
        owed = frozenset(set(shards) - _applied.get(row[0], set()))
        if owed:
            groups.setdefault(owed, []).append(row)
    return groups


def _reached(rows: list[tuple], shards: Iterable[int]) -> None:
    for pk, _ in rows:
        _applied.setdefault(pk, set()).update(shards)
    if len(_applied) > 100_000:
        _applied.clear()  # bounded; sending a row again is harmless


def apply_on_connection(raw: Any, shards: list[int]) -> None:
    """Apply the stranded invalidations these shards have not had to them,
    through a new raw connection, before its first command. The rows go once
    every shard has them (here: the connection's server holds them all)."""
    if not shards:
        return
    rows = stranded()
    if not rows:
        return
    sent = []
    for shard in shards:
        todo = [row for row in rows if shard not in _applied.get(row[0], set())]
        if not todo:
            continue
        raw.send_command(
            "EVAL", scripts.INVALIDATE, 3,
            keys.clock_key(shard), keys.stats_key(shard), keys.recent_key(shard),
            keys.version_prefix(shard), ";".join(deps for _, deps in todo), "0",
        )  # fmt: skip
        sent.append((shard, todo))
    for _ in sent:
        raw.read_response()
    for shard, todo in sent:
        _reached(todo, [shard])
    if len(shards) == len(keys.roots()):
        _forget([pk for pk, _ in rows])
    if sent:
        logger.info(
            "applied %d stranded invalidations to %d shard(s) on a new connection",
            len(rows),
            len(sent),
        )


def _forget(rows: list[int], using: str = DEFAULT_DB_ALIAS) -> None:
    conn = connections[using]
    if conn.in_atomic_block:
        return  # not inside someone's transaction: the watcher will
    opened = conn.connection is None
    try:
        done(rows, using=using)
    except Exception:  # noqa: BLE001  (they will be applied again: harmless)
        logger.debug("outbox rows kept", exc_info=True)
    finally:
        if opened:
            conn.close()


def drain(
    redis: Redis, shards: list[int] | None = None, *, using: str = DEFAULT_DB_ALIAS
) -> int:
    """Apply every pending invalidation to Redis, every shard; return how many
    were applied. Rows are forgotten once every shard has them.

    ``shards``: the shards about to be used (a breaker recovering): if only
    other shards are still unreachable (a cluster node failing over), the rows
    stay for them and this succeeds. Otherwise the Redis error is raised; what
    was not applied stays. Applying a row twice is harmless: stamps only go up.
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
        every = range(len(keys.roots()))
        failed: set[int] = set()
        cause: BaseException | None = None
        for owed, group in _owed(rows, every).items():
            try:
                store.invalidate_wire(
                    redis, ";".join(deps for _, deps in group), shards=owed
                )
            except client.ShardsUnavailable as exc:
                failed |= set(exc.shards)
                cause = exc.cause
                _reached(group, owed - set(exc.shards))
            else:
                _reached(group, owed)
        if failed:
            if shards is None or set(shards) & failed:
                raise client.ShardsUnavailable(failed, cause or RuntimeError())
            return applied + len(rows)  # these shards have them; rows stay
        done([pk for pk, _ in rows], using=using)
        for pk, _ in rows:
            _applied.pop(pk, None)
        applied += len(rows)
        logger.warning("applied %d invalidations left by a Redis outage", len(rows))


# --- the watcher ------------------------------------------------------------------

_watcher: tuple[int, threading.Thread] | None = None
_watcher_lock = threading.Lock()
_settled: list[int] = []  # applied by this process; its watcher deletes them
_settled_lock = threading.Lock()


def watching() -> bool:
    """Return whether this process runs its watcher."""
    return _watcher is not None and _watcher[0] == os.getpid()


def _watch(interval: float) -> None:
    from caching.store import compaction

    while True:
        time.sleep(interval)
        try:
            # The thread keeps its connection between polls (CONN_MAX_AGE still
            # applies): a new one per poll cost a millisecond of the worker's
            # CPU, holding the GIL from its requests, and a PostgreSQL backend.
            close_old_connections()
            _forget_settled()
            if pending(keep_connection=True):
                client.run(drain, force=True)
            compaction.maybe_run()
        except client.CacheUnavailable:
            pass  # the breaker is open: reads bypass until a drain succeeds
        except Exception:  # noqa: BLE001  (a database hiccup: try next time)
            logger.exception("outbox watcher")


def start_watcher() -> bool:
    """Start this process's outbox watcher unless it runs; True if started.

    Called on every request by the WSGI application (caching.http.wsgi): a cheap pid
    check, so a forked worker starts its own.
    """
    global _watcher
    pid = os.getpid()
    if _watcher is not None and _watcher[0] == pid:
        return False
    interval = conf.outbox_poll()
    if interval <= 0:
        return False
    with _watcher_lock:
        if _watcher is not None and _watcher[0] == pid:
            return False
        thread = threading.Thread(
            target=_watch, args=(interval,), name="caching-outbox", daemon=True
        )
        thread.start()
        _watcher = (pid, thread)
        # A worker exiting between two polls: what it settled need not wait to
        # be taken for abandoned (and applied again, harmlessly) by another.
        atexit.register(_forget_settled)
    return True
