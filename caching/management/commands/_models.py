"""Argument helpers shared by the cache commands."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import CommandError
from django.db import models

from caching.ops.warm import cached_models


def resolve_models(label: str | None) -> list[type[models.Model]]:
    """Return [the model named app.Model], or every cached model when None."""
    if label is None:
        return cached_models()
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        raise CommandError(
            f"Unknown model {label!r}; use app_label.ModelName."
        ) from None
    if model not in cached_models():
        names = ", ".join(m._meta.label for m in cached_models())
        raise CommandError(
            f"{model._meta.label} is not cached; cached models: {names}."
        )
    return [model]
