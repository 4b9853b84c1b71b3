"""
Serializer costs the write path pays on every request, paid once instead.

A ``ModelSerializer`` introspects its model to build its fields each time one is
instantiated; a PATCH builds one to validate and the write-through refill renders
the fresh row again. Neither needs to start from the model.
"""

from __future__ import annotations

import copy
from typing import Any

from django.db import models
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer


class FieldsBuiltOnce:
    """ModelSerializer mixin: build the fields and the model's unique-together
    validators once per class; each serializer gets a deep copy of the fields,
    as DRF already does for declared fields, and the (stateless) validators.

    Only for serializers whose fields do not depend on the instance or context.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        prototypes = cls.__dict__.get("_field_prototypes")
        if prototypes is None:
            prototypes = super().get_fields()  # type: ignore[misc]
            cls._field_prototypes = prototypes  # type: ignore[attr-defined]
        return copy.deepcopy(prototypes)

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


def render_json(
    serializer_class: type[serializers.BaseSerializer],
    instance: models.Model,
    context: dict | None = None,
) -> bytes:
    """Return the JSON a GET renders of instance with serializer_class (the body
    an endpoint's write-through form stores)."""
    data = (
        represent(serializer_class, instance)
        if context is None
        else serializer_class(instance, context=context).data
    )
    return JSONRenderer().render(data)
