"""Argument helpers shared by the cache commands."""

from __future__ import annotations

from collections.abc import Callable

from django.apps import apps
from django.core.management.base import CommandError
from django.db import models

from caching.ops.warm import cached_models


def resolve_models(
    label: str | None, among: Callable[[], list[type[models.Model]]] = cached_models
) -> list[type[models.Model]]:
    """Return [the model named app.Model] if it is among those given (by
    default the cached models), or every one of them when None."""
    if label is None:
        return among()
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        raise CommandError(
            f"Unknown model {label!r}; use app_label.ModelName."
        ) from None
    if model not in among():
        names = ", ".join(m._meta.label for m in among())
        raise CommandError(
            f"{model._meta.label} is not cached; cached models: {names}."
        )
    return [model]
