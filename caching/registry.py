"""Which models the caching layer tracks, and which relations their entries embed."""

from __future__ import annotations

from django.db import models

_tracked: dict[type[models.Model], tuple[str, ...]] = {}


def track(model: type[models.Model], depends_on: tuple[str, ...] = ()) -> None:
    """Invalidate model's entries on every write; entries embed depends_on."""
    previous = _tracked.get(model, ())
    _tracked[model] = tuple(dict.fromkeys(previous + tuple(depends_on)))


def is_tracked(model: type[models.Model]) -> bool:
    """Return whether writes to model must invalidate."""
    return model in _tracked


def dependencies_of_model(model: type[models.Model]) -> tuple[str, ...]:
    """Return the relation names whose rows model's cached copies embed."""
    return _tracked.get(model, ())


def tracked_models() -> list[type[models.Model]]:
    """Return every model whose writes invalidate."""
    return list(_tracked)
