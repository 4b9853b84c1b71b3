"""Every user gets a profile, whichever way the user was created."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save


def create_profile(sender, instance, created, raw=False, **kwargs) -> None:
    if created and not raw:
        from users.models import Profile

        Profile.objects.get_or_create(user=instance)


def connect() -> None:
    post_save.connect(
        create_profile, sender=get_user_model(), dispatch_uid="users.create_profile"
    )
