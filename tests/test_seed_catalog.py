"""seed_catalog: deterministic, bulk, idempotent with --if-empty."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from catalog.models import Category, Product, Tag
from users.models import Profile

pytestmark = pytest.mark.django_db(transaction=True)


def seed(*args: str) -> str:
    out = StringIO()
    call_command(
        "seed_catalog", "--products", "120", "--users", "15", *args, stdout=out
    )
    return out.getvalue()


def snapshot() -> list[tuple]:
    return list(
        Product.objects.order_by("sku").values_list(
            "sku", "name", "price", "category__slug"
        )
    )


def test_seeds_the_requested_sizes_with_profiles():
    assert "Seeded 120 products, 15 users" in seed()
    assert Product.objects.count() == 120
    assert Category.objects.count() == 50
    assert Tag.objects.count() == 200
    assert get_user_model().objects.count() == 15
    assert Profile.objects.count() == 15
    assert Product.tags.through.objects.exists()


def test_same_seed_gives_the_same_catalog():
    seed("--seed", "7")
    first = snapshot()
    Product.objects.all().delete()
    Category.objects.all().delete()
    Tag.objects.all().delete()
    get_user_model().objects.all().delete()
    seed("--seed", "7")
    assert snapshot() == first


def test_if_empty_is_idempotent_and_plain_rerun_refuses():
    seed()
    assert "nothing to do" in seed("--if-empty")
    assert Product.objects.count() == 120
    with pytest.raises(CommandError):
        seed()


def test_seeded_users_can_sign_in(api_client):
    seed()
    response = api_client.post(
        "/api/auth/token/", {"username": "user3", "password": "password"}, format="json"
    )
    assert response.status_code == 200
