"""Writes to profiles: through the write-through manager."""

from __future__ import annotations

from django.db import transaction
from rest_framework.serializers import BaseSerializer

from users.models import Profile


def profile_update(*, serializer: BaseSerializer) -> Profile:
    """Update a profile; its cached responses are refilled after commit."""
    with transaction.atomic():
        profile = serializer.save()
        Profile.objects.refill_on_commit(profile)
    return profile
