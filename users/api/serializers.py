"""Profile JSON; ``email`` only for the owner and staff."""

from __future__ import annotations

from rest_framework import serializers

from users.models import Profile
from users.selectors import can_see_email


class ProfileSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Profile
        fields = [
            "username", "display_name", "bio", "location", "website", "is_public",
            "updated_at", "email",
        ]  # fmt: skip
        read_only_fields = ["updated_at"]

    def to_representation(self, instance: Profile) -> dict:
        data = super().to_representation(instance)
        show = self.context.get("show_email")
        if show is None:
            viewer = self.context.get("viewer")
            show = viewer is not None and can_see_email(viewer=viewer, profile=instance)
        if not show:
            data.pop("email", None)
        return data
