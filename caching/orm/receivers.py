"""
Model signals, for what only the instance knows: the keys of its own entries.

The stamps of every write come from caching.orm.capture, where Django executes it.
A save or delete of a tracked model also deletes the entries keyed by fields
of the instance (a category's detail under its slug, a profile's under its
username); those keyed by the primary key the compiler deletes itself. Receivers
are connected per tracked model, never for all senders: a delete listener for
every model would stop Django's fast deletes everywhere (M2M rows included).
"""

from __future__ import annotations

from typing import Any

from django.db import models

from caching.orm import deps as dep
from caching.orm.invalidation import invalidate_on_commit
from caching.orm.registry import on_track, owned_keys


def _own_by_instance(sender: type[models.Model], instance: models.Model) -> set[str]:
    model = dep.concrete(sender)
    by_pk = owned_keys(model, instance.pk)
    return set(owned_keys(model, instance.pk, instance)) - set(by_pk)


def on_save(sender, instance, raw=False, using="default", **kwargs: Any) -> None:
    invalidate_on_commit((), owned=_own_by_instance(sender, instance), using=using)


def on_delete(sender, instance, using="default", **kwargs: Any) -> None:
    invalidate_on_commit((), owned=_own_by_instance(sender, instance), using=using)


def _connect_model(model: type[models.Model]) -> None:
    label = model._meta.label_lower
    models.signals.post_save.connect(
        on_save, sender=model, dispatch_uid=f"caching.on_save.{label}"
    )
    models.signals.post_delete.connect(
        on_delete, sender=model, dispatch_uid=f"caching.on_delete.{label}"
    )


def connect() -> None:
    """Connect the receivers of every tracked model (CachingConfig.ready())."""
    on_track(_connect_model)
