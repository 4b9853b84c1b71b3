"""Factories for the tests: the apps' own, re-exported in one place."""

from catalog.factories import CategoryFactory, ProductFactory, TagFactory
from users.factories import UserFactory

__all__ = ["CategoryFactory", "ProductFactory", "TagFactory", "UserFactory"]
