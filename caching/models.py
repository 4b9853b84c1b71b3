"""The durable outbox of invalidations (docs/consistency.md I4)."""

from __future__ import annotations

from django.db import models


class PendingInvalidation(models.Model):
    """Stamps a committed write still owes Redis.

    Written in the same transaction as the change; deleted once the stamps reach
    Redis. Rows left by an outage are applied by whichever process reaches Redis
    first, before it reads (caching.orm.outbox).
    """

    deps = models.TextField(help_text="label|field;... as the Lua scripts read it")
    stranded = models.BooleanField(
        default=False, help_text="its writer could not reach Redis: anyone applies it"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.deps[:60]}"
