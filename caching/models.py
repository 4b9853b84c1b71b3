"""The durable outbox of invalidations (CONSISTENCY-NOTES I4)."""

from __future__ import annotations

from django.db import models


class PendingInvalidation(models.Model):
    """Stamps a committed write still owes Redis.

    Written in the same transaction as the change; deleted once the stamps reach
    Redis. Rows left by an outage are applied before cached reads resume.
    """

    deps = models.TextField(help_text="label|field;... as the Lua scripts read it")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.deps[:60]}"
