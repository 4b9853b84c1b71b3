"""Model signal receivers: every signalled write to a tracked model invalidates."""

from __future__ import annotations

from django.db import models

from caching import deps as dep
from caching.invalidation import changed, invalidate_on_commit
from caching.registry import is_tracked


def on_save(sender, instance, raw=False, using="default", **kwargs) -> None:
    if is_tracked(sender):
        invalidate_on_commit(changed(instance), using=using)


def on_delete(sender, instance, using="default", **kwargs) -> None:
    if is_tracked(sender):
        invalidate_on_commit(changed(instance), using=using)


def on_m2m_changed(
    sender, instance, action, reverse, model, pk_set, using="default", **kwargs
) -> None:
    if not action.startswith("post_"):
        return
    if not (is_tracked(type(instance)) or is_tracked(model)):
        return
    stamps = [*changed(instance), dep.table(sender), dep.table(model)]
    if pk_set is None:  # clear(): the other side's rows are not named
        stamps.append(dep.all_rows(model))
    else:
        stamps += [dep.row(model, pk) for pk in pk_set]
    invalidate_on_commit(stamps, using=using)


def connect() -> None:
    """Connect the receivers (called from CachingConfig.ready())."""
    models.signals.post_save.connect(on_save, dispatch_uid="caching.on_save")
    models.signals.post_delete.connect(on_delete, dispatch_uid="caching.on_delete")
    models.signals.m2m_changed.connect(
        on_m2m_changed, dispatch_uid="caching.on_m2m_changed"
    )
