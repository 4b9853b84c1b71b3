"""
Filling the cache ahead of reads: every object's entries, and the pages of the
endpoints declared ``warm=True`` (manage.py cache_warm, the admin's refresh).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import models
from django.test import Client

from caching import store
from caching.http.endpoint import endpoints
from caching.orm import writethrough
from caching.orm.registry import tracked_models

CHUNK = 500
Progress = Callable[[int], None]


def cached_models() -> list[type[models.Model]]:
    """Return the models whose entries this app caches (not mere dependencies)."""
    return [m for m in tracked_models() if hasattr(m._default_manager, "get_cached")]


def rows(model: type[models.Model]) -> Any:
    """Return model's rows from the database (its manager is a CachedManager)."""
    manager: Any = model._default_manager
    return manager.uncached()


def pk_chunks(model: type[models.Model], pks: list | None = None) -> Iterator[list]:
    if pks is None:
        pks = list(rows(model).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), CHUNK):
        yield pks[start : start + CHUNK]


def load(model: type[models.Model], pks: list) -> list[models.Model]:
    return list(rows(model).with_embedded().filter(pk__in=pks))


def warm(
    models_: Iterable[type[models.Model]],
    *,
    progress: Progress = lambda n: None,
    pks: list | None = None,
) -> int:
    """Fill every object's entries (its object entry and each cached form its
    endpoints declare) for models, pipelined; return entries stored."""
    stored = 0
    for model in models_:
        for chunk in pk_chunks(model, pks):
            asof = store.now_all()  # before the read of this batch (I12)
            batch = load(model, chunk)
            entries = [
                entry for obj in batch for entry in writethrough.entries_for(obj)
            ]
            stored += store.fill_many(entries, asof)
            progress(len(entries))
    return stored


def warm_pages(models_: Iterable[type[models.Model]] | None = None) -> int:
    """GET the pages of the endpoints declared ``warm=True`` (first list pages,
    stats), as an anonymous client does; with models_, only theirs. Keys do not
    depend on the Host, so one allowed host warms what every client reads."""
    hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if "*" not in h]
    client = Client(HTTP_HOST=(hosts or ["localhost"])[0])
    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    wanted = None if models_ is None else set(models_)
    warmed = 0
    for endpoint in endpoints():
        path = endpoint.warm_path()
        if path is None or (wanted is not None and endpoint.model not in wanted):
            continue
        warmed += client.get(path, secure=secure)["X-Cache"] != "BYPASS"
    return warmed


def refresh(objects: Iterable[models.Model]) -> int:
    """Refill the entries of these objects from the database (admin action)."""
    by_model: dict[type[models.Model], list] = defaultdict(list)
    for obj in objects:
        by_model[type(obj)].append(obj.pk)
    return sum(warm([model], pks=pks) for model, pks in by_model.items())
