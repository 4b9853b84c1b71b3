"""
Which models the caching layer caches, which relations their entries embed, and
which keys belong to one object (deleted when it changes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.db import models

from caching.store import keys

_tracked: dict[type[models.Model], tuple[str, ...]] = {}
# model -> functions (instance) -> (key, value) of each cached form of it
_forms: dict[type[models.Model], list[Callable[[Any], Iterable[tuple[str, Any]]]]] = (
    defaultdict(list)
)
# model -> functions (pk, instance or None) -> keys of that object's own entries
_owners: dict[type[models.Model], list[Callable[[Any, Any], Iterable[str]]]] = (
    defaultdict(list)
)
_sides: dict[type[models.Model], tuple[tuple[Any, type[models.Model]], ...]] | None = (
    None
)


_on_track: list[Callable[[type[models.Model]], None]] = []


def track(model: type[models.Model], depends_on: tuple[str, ...] = ()) -> None:
    """Cache model's entries; they embed the relations named in depends_on."""
    global _sides
    new = model not in _tracked
    previous = _tracked.get(model, ())
    _tracked[model] = tuple(dict.fromkeys(previous + tuple(depends_on)))
    _sides = None
    if new:
        for hook in _on_track:
            hook(model)


def on_track(hook: Callable[[type[models.Model]], None]) -> None:
    """Call hook with every tracked model, now and as more are tracked."""
    _on_track.append(hook)
    for model in list(_tracked):
        hook(model)


def is_tracked(model: type[models.Model]) -> bool:
    """Return whether model has cached entries of its own."""
    return model in _tracked


def dependencies_of_model(model: type[models.Model]) -> tuple[str, ...]:
    """Return the relation names whose rows model's cached copies embed."""
    return _tracked.get(model, ())


def tracked_models() -> list[type[models.Model]]:
    """Return every model with cached entries of its own."""
    return list(_tracked)


def embedding_sides(
    through: type[models.Model],
) -> tuple[tuple[Any, type[models.Model]], ...]:
    """Return (foreign key on the through model, model) for each tracked model
    whose cached copies embed the many-to-many relation stored in ``through``."""
    global _sides
    if _sides is None:
        found: dict[type[models.Model], list] = defaultdict(list)
        for model, names in _tracked.items():
            for name in names:
                field: Any = model._meta.get_field(name)
                if not field.many_to_many:
                    continue
                if field.concrete:  # the forward side: product.tags
                    table, fk_name = field.remote_field.through, field.m2m_field_name()
                else:  # the reverse side: tag.products
                    table, fk_name = field.through, field.field.m2m_reverse_field_name()
                found[table].append((table._meta.get_field(fk_name), model))
        _sides = {table: tuple(sides) for table, sides in found.items()}
    return _sides.get(through, ())


def own_entries(
    model: type[models.Model], keys_of: Callable[[Any, Any], Iterable[str]]
) -> None:
    """Declare more keys owned by one object: keys_of(pk, instance or None)."""
    if keys_of not in _owners[model]:
        _owners[model].append(keys_of)


def cached_forms(
    model: type[models.Model], forms_of: Callable[[Any], Iterable[tuple[str, Any]]]
) -> None:
    """Declare more cached forms of model's objects: forms_of(instance) returns
    (key, Fill) of each, as a GET would store it (write-through, verify)."""
    if forms_of not in _forms[model]:
        _forms[model].append(forms_of)


def forms_of(instance: models.Model) -> list[tuple[str, Any]]:
    """Return (key, Fill) of every declared form of instance."""
    found: list[tuple[str, Any]] = []
    for forms in _forms.get(type(instance), ()):
        found.extend(forms(instance))
    return found


def owned_keys(
    model: type[models.Model], pk: Any, instance: models.Model | None = None
) -> list[str]:
    """Return the keys of the entries that are one object's own (its object
    entry and detail responses): deleted when it changes."""
    if model not in _tracked:
        return []
    found = [keys.object_key(model, pk)]
    for keys_of in _owners.get(model, ()):
        found.extend(keys_of(pk, instance))
    return found
