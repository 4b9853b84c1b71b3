"""Deterministic demo data for the catalog and its users, inserted in bulk
(manage.py seed_catalog). At the project level: catalog and users know nothing
of each other."""

from __future__ import annotations

import random
from collections.abc import Callable

import factory.random
from django.contrib.auth import get_user_model
from django.db import transaction

from catalog.factories import CategoryFactory, ProductFactory, TagFactory
from catalog.models import Category, Product, Tag
from users.factories import ProfileDataFactory, UserFactory
from users.models import Profile

BATCH = 1000
Progress = Callable[[int], None]


def is_empty() -> bool:
    return not Product.objects.exists()


def seed(
    *,
    products: int,
    users: int,
    categories: int = 50,
    tags: int = 200,
    seed: int = 42,
    progress: Progress = lambda n: None,
) -> dict[str, int]:
    """Insert a deterministic catalog and users; return how many of each."""
    factory.random.reseed_random(seed)
    rng = random.Random(seed)
    for f in (CategoryFactory, TagFactory, ProductFactory, UserFactory):
        f.reset_sequence(0)
    with transaction.atomic():
        cats = Category.objects.bulk_create(
            CategoryFactory.build_batch(max(1, categories))
        )
        tag_objs = Tag.objects.bulk_create(TagFactory.build_batch(tags))
        progress(len(cats) + len(tag_objs))
        _seed_products(products, cats, tag_objs, rng, progress)
        _seed_users(users, progress)
    return {
        "products": products,
        "users": users,
        "categories": len(cats),
        "tags": len(tag_objs),
    }


def _seed_products(count, cats, tag_objs, rng, progress: Progress) -> None:
    through = Product.tags.through
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        batch = ProductFactory.build_batch(size, category=None)
        for product in batch:
            product.category = rng.choice(cats)
            product.is_active = rng.random() > 0.05
        created = Product.objects.bulk_create(batch)
        links = [
            through(product_id=p.pk, tag_id=t.pk)
            for p in created
            for t in (rng.sample(tag_objs, k=rng.randint(0, 4)) if tag_objs else [])
        ]
        through.objects.bulk_create(links)
        progress(size)


def _seed_users(count, progress: Progress) -> None:
    User = get_user_model()
    for start in range(0, count, BATCH):
        size = min(BATCH, count - start)
        batch = UserFactory.build_batch(size)
        created = User.objects.bulk_create(batch)
        Profile.objects.bulk_create(
            [Profile(user=user, **ProfileDataFactory()) for user in created]
        )
        progress(size)
