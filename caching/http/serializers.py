"""
Serializer costs the write path pays on every request, paid once instead.

A ``ModelSerializer`` introspects its model to build its fields each time one is
instantiated; a PATCH builds one to validate and the write-through refill renders
the fresh row again. Neither needs to start from the model.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer


class FieldsBuiltOnce:
    """ModelSerializer mixin: build the fields and the model's unique-together
    validators once per class; each serializer gets a deep copy of the fields,
    as DRF already does for declared fields, and the (stateless) validators.

    A partial update of JSON gets copies of the fields its data names only:
    DRF skips the others (``empty``), and a PATCH of one column would copy
    twelve fields, their querysets included, to validate one.

    Only for serializers whose fields do not depend on the instance or context.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        prototypes = cls.__dict__.get("_field_prototypes")
        if prototypes is None:
            prototypes = super().get_fields()  # type: ignore[misc]
            cls._field_prototypes = prototypes  # type: ignore[attr-defined]
        named = self._named_by_partial_json()
        if named is not None:
            prototypes = {k: f for k, f in prototypes.items() if k in named}
        return copy.deepcopy(prototypes)

    def _named_by_partial_json(self) -> dict | None:
        """Return the data of a partial update sent as JSON, else None (an HTML
        form keeps every field: DRF reads an absent checkbox as false). Not
        with serializer-wide validators: a unique-together one reads its
        fields from the serializer (and until they are built, every field)."""
        data = getattr(self, "initial_data", None)
        if not getattr(self, "partial", False) or type(data) is not dict:
            return None
        validators = type(self).__dict__.get("_validators_built")
        built_none = validators is not None and not validators
        return data if built_none else None

    @classmethod
    def represent(cls, instance: models.Model) -> Any:
        """Return what ``cls(instance).data`` holds, from the class's one
        serializer: no fields built or copied for it."""
        return represent(cls, instance)  # type: ignore[arg-type]

    def get_validators(self) -> list:
        cls = type(self)
        validators = cls.__dict__.get("_validators_built")
        if validators is None:
            validators = super().get_validators()  # type: ignore[misc]
            cls._validators_built = validators  # type: ignore[attr-defined]
        return list(validators)


_renderers: dict[type, Any] = {}


def represent(
    serializer_class: type[serializers.BaseSerializer], instance: models.Model
) -> Any:
    """Return ``serializer_class(instance).data`` without building a serializer."""
    renderer = _renderers.get(serializer_class)
    if renderer is None:
        # NOTE: to_representation reads fields and writes no state: one
        # serializer per class serves every call, in every thread.
        renderer = _renderers[serializer_class] = serializer_class()
    return renderer.to_representation(instance)


# Within rendering_once(): the bodies rendered so far, by (class, instance).
_rendered: ContextVar[dict[tuple[type, int], bytes] | None] = ContextVar(
    "caching_rendered", default=None
)


@contextmanager
def rendering_once() -> Iterator[None]:
    """Within, render_json renders an instance once per serializer class: the
    forms of one object often share their body (a product's staff and public
    details are the same bytes). The instance must not change inside."""
    outer = _rendered.get()
    token = _rendered.set({} if outer is None else outer)
    try:
        yield
    finally:
        _rendered.reset(token)


def render_json(
    serializer_class: type[serializers.BaseSerializer],
    instance: models.Model,
    context: dict | None = None,
) -> bytes:
    """Return the JSON a GET renders of instance with serializer_class (the body
    an endpoint's write-through form stores)."""
    if context is not None:
        return JSONRenderer().render(serializer_class(instance, context=context).data)
    memo = _rendered.get()
    key = (serializer_class, id(instance))
    body = None if memo is None else memo.get(key)
    if body is None:
        body = JSONRenderer().render(represent(serializer_class, instance))
        if memo is not None:
            memo[key] = body
    return body
