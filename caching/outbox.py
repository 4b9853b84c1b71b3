"""
Invalidations that must not be lost: written to the database with the change,
applied to Redis after commit, re-applied after an outage before reads resume.

On every write the row is inserted and deleted with plain statements:
Model.save() would run the save signals and field machinery, QuerySet.delete()
would SELECT the row and wrap the DELETE in a transaction, for a table nothing
else references.
"""

from __future__ import annotations

import logging

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils import timezone
from redis import Redis

from caching import store
from caching.models import PendingInvalidation

logger = logging.getLogger("caching")
BATCH = 500


def record(wire: str, *, using: str = DEFAULT_DB_ALIAS) -> int:
    """Write a pending invalidation in the current transaction; return its id."""
    ops = connections[using].ops
    table = ops.quote_name(PendingInvalidation._meta.db_table)
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (deps, created_at) VALUES (%s, %s) RETURNING id",
            [wire, ops.adapt_datetimefield_value(timezone.now())],
        )
        return cursor.fetchone()[0]


def done(row_id: int, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Forget a pending invalidation that reached Redis."""
    table = connections[using].ops.quote_name(PendingInvalidation._meta.db_table)
    with connections[using].cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [row_id])


def drain(redis: Redis, *, using: str = DEFAULT_DB_ALIAS) -> int:
    """Apply every pending invalidation to Redis; return how many were applied.

    Raises the Redis error if Redis fails midway; what was not applied stays.
    """
    applied = 0
    while True:
        try:
            rows = list(
                PendingInvalidation.objects.using(using).values_list("pk", "deps")[
                    :BATCH
                ]
            )
        except DatabaseError:  # no table yet (before migrate) or no database
            logger.debug("outbox unreadable", exc_info=True)
            return applied
        if not rows:
            return applied
        store.invalidate_wire(redis, ";".join(deps for _, deps in rows))
        PendingInvalidation.objects.using(using).filter(
            pk__in=[pk for pk, _ in rows]
        ).delete()
        applied += len(rows)
        logger.warning("re-applied %d invalidations left by a Redis outage", len(rows))
