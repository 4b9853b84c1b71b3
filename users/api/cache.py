"""Write-through of profile responses: each viewer's form of the detail."""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse
from rest_framework.renderers import JSONRenderer

from caching import deps as dep
from caching import operations, registry, writethrough
from caching.api import response_fill
from caching.keys import response_key
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


def profile_keys(pk, instance: Profile | None = None) -> list[str]:
    """Return the keys of a profile's detail and /me responses (deleted on a
    change); keyed by username and user id, which only the instance knows."""
    if instance is None:
        return []
    found = [response_key(reverse("profile-me"), f"u{instance.user_id}")]
    if Profile.user.is_cached(instance):
        path = reverse("profile-detail", args=[instance.user.get_username()])
        found += [response_key(path, vary) for vary in ("staff", "owner", "public")]
    return found


writethrough.register(Profile, profile_fills)
registry.own_entries(Profile, profile_keys)
operations.register_pages(Profile, "/api/profiles/")
