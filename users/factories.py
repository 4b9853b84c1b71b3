"""factory-boy factories of users and profiles (seed_catalog and the tests)."""

from __future__ import annotations

from functools import cache

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password


@cache
def demo_password_hash() -> str:
    """Return a hash of "password", computed once: hashing per user is slow."""
    return make_password("password")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.LazyFunction(demo_password_hash)
    is_staff = False


class ProfileDataFactory(factory.DictFactory):
    """Field values of a profile (profiles themselves come with their user)."""

    display_name = factory.Faker("name")
    bio = factory.Faker("sentence", nb_words=12)
    location = factory.Faker("city")
    website = factory.Faker("url")
    is_public = factory.Faker("boolean", chance_of_getting_true=85)
