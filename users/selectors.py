"""Reads of profiles."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from users.models import Profile


def profile_list() -> QuerySet[Profile]:
    """Return the public profiles, in id order."""
    return Profile.objects.filter(is_public=True).select_related("user").order_by("id")


def profiles_visible_to(user) -> QuerySet[Profile]:
    """Return the profiles user may open: public ones, their own, all for staff."""
    queryset = Profile.objects.select_related("user")
    if user.is_staff:
        return queryset
    if user.is_authenticated:
        return queryset.filter(Q(is_public=True) | Q(user=user))
    return queryset.filter(is_public=True)


def can_see_email(*, viewer, profile: Profile) -> bool:
    """Return whether viewer may see profile's email (owner or staff)."""
    return bool(viewer.is_staff or viewer.pk == profile.user_id)
