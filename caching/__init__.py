"""
The ORM caching layer: cache-aside querysets, signal invalidation on commit,
write-through, and response caching for DRF views. See docs/caching.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db import models


def invalidate(target: type[models.Model] | models.Model) -> None:
    """Invalidate one object, or every entry of a model (use after raw SQL)."""
    from caching.invalidation import invalidate as _invalidate

    _invalidate(target)
