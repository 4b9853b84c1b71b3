"""Write-through of profile responses: each viewer's form of the detail."""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse
from rest_framework.renderers import JSONRenderer

from caching import deps as dep
from caching import operations, writethrough
from caching.api import response_fill
from caching.store import Fill
from users.api.serializers import ProfileSerializer
from users.models import Profile


def profile_fills(profile: Profile) -> Iterable[tuple[str, Fill]]:
    """Return the detail as the owner, staff and (if public) anyone see it, and /me."""
    deps = dep.for_instance(profile)
    private = JSONRenderer().render(
        ProfileSerializer(profile, context={"show_email": True}).data
    )
    path = reverse("profile-detail", args=[profile.user.get_username()])
    fills = [
        response_fill(path, "staff", private, deps),
        response_fill(path, "owner", private, deps),
        response_fill(reverse("profile-me"), f"u{profile.user_id}", private, deps),
    ]
    if profile.is_public:
        public = JSONRenderer().render(
            ProfileSerializer(profile, context={"show_email": False}).data
        )
        fills.append(response_fill(path, "public", public, deps))
    return fills


writethrough.register(Profile, profile_fills)
operations.register_pages(Profile, "/api/profiles/")
