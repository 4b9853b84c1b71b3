"""
Soak test of cache consistency: many reader and writer processes on one product,
injected delays at the race point, and a stale-read count at the end. Writers go
through QuerySet.update(), write-through and raw SQL in turn, set a user's email
with User.objects.update() and create and delete rows; this process compacts the
stamp hashes all along (--compact-horizon).

    .venv/bin/python -m scripts.soak --seconds 600 --readers 4 --writers 2
    .venv/bin/python -m scripts.soak --seconds 60 --naive   # shows the checker works

Uses DATABASE_URL / REDIS_URL like the app (run `manage.py migrate` first).
Prints reads, reads/s, stale reads and the commit-to-fresh latency. Exit 1 if any
read was stale.
"""

from __future__ import annotations

import argparse
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument(
        "--delay-ms", type=int, default=20, help="max pause before a fill"
    )
    parser.add_argument(
        "--pause-ms", type=float, default=10, help="max pause between writes"
    )
    parser.add_argument("--naive", action="store_true", help="textbook racy fills")
    parser.add_argument(
        "--compact-horizon", type=float, default=2.0, help="seconds; 0: no compaction"
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from caching import conf
    from catalog.factories import CategoryFactory
    from catalog.models import Product
    from scripts import consistency

    product, _ = Product.objects.update_or_create(
        sku="SOAK-1",
        defaults={"name": "Soak", "slug": "soak", "price": 1000, "is_active": True,
                  "category": CategoryFactory(name="Soak", slug="soak")},
    )  # fmt: skip
    user, _ = get_user_model().objects.update_or_create(
        username="soak", defaults={"email": "v1000@example.com"}
    )
    report = consistency.run(
        product=product.pk,
        readers=args.readers,
        writers=args.writers,
        writes=10**9,
        seconds=args.seconds,
        delay_ms=args.delay_ms,
        pause_ms=args.pause_ms,
        naive=args.naive,
        user=user.pk,
        churn=True,
        compact_horizon=args.compact_horizon,
        db_url=consistency.database_url(),
        redis_url=settings.REDIS_URL,
        key_prefix=conf.key_prefix(),
    )
    mode = "naive cache-aside" if args.naive else "stamped fills"
    print(f"{mode}: {report.summary()}")
    for started, seen, expected in report.stale[:5]:
        print(
            f"  stale read at {started}: saw {seen}, {expected} was acknowledged before"
        )
    return 1 if report.stale else 0


if __name__ == "__main__":
    sys.exit(main())
