"""Writes to profiles: through the write-through manager, given fields."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from users.models import Profile


def profile_update(*, profile: Profile, **fields: Any) -> Profile:
    """Change the given fields of profile; its cached responses are refilled
    after commit."""
    with transaction.atomic():
        for name, value in fields.items():
            setattr(profile, name, value)
        profile.save(update_fields=[*fields, "updated_at"])
        Profile.objects.refill_on_commit(profile)
    return profile
