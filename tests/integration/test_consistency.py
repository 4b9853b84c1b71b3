"""
Real processes against the real database and Redis: readers hammer a product's
detail and a list page while writers commit strictly increasing prices. No read
that begins after a write was acknowledged may show an older price.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from caching import conf
from catalog.models import Product
from scripts import consistency

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]
User = get_user_model()


def run(product, **options):
    return consistency.run(
        product=product.pk,
        db_url=consistency.database_url(),
        redis_url=settings.REDIS_URL,
        key_prefix=conf.key_prefix(),
        **options,
    )


def test_no_stale_reads_across_processes(product):
    Product.objects.filter(pk=product.pk).update(price=1000)
    report = run(product, readers=3, writers=1, writes=60, delay_ms=10)
    print(report.summary())
    assert report.reads > 200
    assert report.writes == 60
    assert report.stale == []
    assert report.settled_reads > 0
    assert report.settled_wrong == 0
    assert report.final_version == 1060 == int(Product.objects.get(pk=product.pk).price)


def test_no_stale_reads_with_every_write_path_and_compaction(product, user):
    """Writers through QuerySet.update(), write-through and raw SQL, each also
    User.objects.update() of the reader's email and a row created and deleted;
    the stamp hashes compacted all along with a horizon of 0.3 s."""
    Product.objects.filter(pk=product.pk).update(price=1000)
    User.objects.filter(pk=user.pk).update(email="v1000@example.com")
    report = run(
        product,
        readers=3,
        writers=2,
        writes=40,
        delay_ms=10,
        user=user.pk,
        churn=True,
        compact_horizon=0.3,
    )
    print(report.summary())
    assert report.reads > 200
    assert report.stale == []
    assert report.settled_wrong == 0
    assert report.final_version == 1080 == int(Product.objects.get(pk=product.pk).price)
    assert User.objects.get(pk=user.pk).email == "v1080@example.com"


def test_the_checker_catches_a_naive_cache(product):
    """The same run with the textbook fill (stamped after the read) is caught."""
    Product.objects.filter(pk=product.pk).update(price=1000)
    report = run(
        product, readers=3, writers=1, writes=60, delay_ms=20, pause_ms=40, naive=True
    )
    print(report.summary())
    assert len(report.stale) > 0
