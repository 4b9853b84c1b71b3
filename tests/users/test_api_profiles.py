"""Profiles: created with every user; public list; private 404; email rule; /me."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from users.models import Profile

pytestmark = pytest.mark.django_db


def test_every_new_user_gets_a_profile(db):
    user = get_user_model().objects.create_user("carol", "carol@example.com", "pw")
    assert Profile.objects.filter(user=user, is_public=True).exists()


def test_list_shows_public_profiles_only(api_client, user, other_user):
    Profile.objects.filter(user=other_user).update(is_public=False)
    body = api_client.get("/api/profiles/").json()
    assert [row["username"] for row in body["results"]] == ["alice"]
    assert "email" not in body["results"][0]


def test_private_profile_is_404_to_all_but_owner_and_staff(
    api_client, user_client, other_client, staff_client, user
):
    Profile.objects.filter(user=user).update(is_public=False)
    url = "/api/profiles/alice/"
    assert api_client.get(url).status_code == 404
    assert other_client.get(url).status_code == 404
    assert user_client.get(url).status_code == 200
    assert staff_client.get(url).status_code == 200


def test_email_is_shown_to_owner_and_staff_only(
    api_client, user_client, other_client, staff_client, user
):
    url = "/api/profiles/alice/"
    assert "email" not in api_client.get(url).json()
    assert "email" not in other_client.get(url).json()
    assert user_client.get(url).json()["email"] == "alice@example.com"
    assert staff_client.get(url).json()["email"] == "alice@example.com"
    body = user_client.get(url).json()
    assert set(body) == {
        "username", "display_name", "bio", "location", "website", "is_public",
        "updated_at", "email",
    }  # fmt: skip


def test_me_reads_and_patches_own_profile(api_client, user_client, user):
    assert api_client.get("/api/profiles/me/").status_code == 401
    me = user_client.get("/api/profiles/me/")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    patched = user_client.patch(
        "/api/profiles/me/",
        {"display_name": "Alice A.", "location": "Oslo"},
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["display_name"] == "Alice A."
    assert Profile.objects.get(user=user).location == "Oslo"


def test_me_rejects_bad_fields(user_client):
    response = user_client.patch(
        "/api/profiles/me/", {"website": "not a url"}, format="json"
    )
    assert response.status_code == 400
    assert "website" in response.json()


def test_profiles_are_read_only_over_the_api(staff_client, user):
    assert staff_client.delete("/api/profiles/alice/").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_changing_a_user_refreshes_their_profile(user):
    profile = Profile.objects.get(user=user)
    assert Profile.objects.get_cached(pk=profile.pk).user.email == "alice@example.com"
    user.email = "alice@new.example"
    user.save()
    assert Profile.objects.get_cached(pk=profile.pk).user.email == "alice@new.example"
