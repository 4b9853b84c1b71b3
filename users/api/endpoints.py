"""
The profiles' cached endpoints: who sees what, and how each form renders.

A profile detail differs for staff, its owner (both see the email) and everyone
else (who see it only if the profile is public); /api/profiles/me/ is one
user's own; a list shows each viewer their own email.
"""

from __future__ import annotations

from caching import Endpoint, Param, Vary, params, render_json, vary_user
from users.api.serializers import ProfileSerializer
from users.models import Profile

PAGE_PARAMS = (
    Param("page", params.integer(default=1, words=("last",))),
    Param("page_size", params.integer(cap=100, default=20)),
)


def vary_profile_list(request, view) -> str:
    """Staff see every email; a user sees their own row's email."""
    return "staff" if request.user.is_staff else vary_user(request, view)


def vary_profile_viewer(request, view) -> str:
    """Staff, the profile's owner, or anyone else."""
    if request.user.is_staff:
        return "staff"
    if request.user.is_authenticated and request.user.get_username() == view.kwargs.get(
        "username"
    ):
        return "owner"
    return "public"


def render_profile(profile: Profile, viewer: str) -> bytes | None:
    """A profile's detail: with the email for staff and its owner; for anyone
    else without it, and none if the profile is private (a 404)."""
    if viewer != "public":
        return render_json(ProfileSerializer, profile, {"show_email": True})
    if not profile.is_public:
        return None
    return render_json(ProfileSerializer, profile, {"show_email": False})


profile_detail = Endpoint(
    "profile-detail",
    model=Profile,
    lookup=("username", "user.username"),
    vary=[Vary("viewer", vary_profile_viewer, values=("staff", "owner", "public"))],
    render=render_profile,
)
profile_me = Endpoint(
    "profile-me",
    model=Profile,
    lookup=None,
    vary=[Vary("user", vary_user, values=lambda profile: [f"u{profile.user_id}"])],
    render=lambda profile, user: render_profile(profile, "owner"),
)
profile_list = Endpoint(
    "profile-list",
    vary=[Vary("viewer", vary_profile_list)],
    params=PAGE_PARAMS,
    warm=True,
)
