"""User profiles: one per auth.User, created with the user."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from caching import WriteThroughManager


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    display_name = models.CharField(max_length=100, blank=True)
    bio = models.TextField(blank=True)
    location = models.CharField(max_length=100, blank=True)
    website = models.URLField(blank=True)
    is_public = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Cached copies of a profile embed its user (username, email).
    objects: WriteThroughManager[Profile] = WriteThroughManager(depends_on=("user",))

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()
