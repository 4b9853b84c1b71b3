"""
`python -m bench.list_miss`: what a list miss costs after one product write,
with the ORM tier under the response tier (ids from a cached query, products
from their own entries) and without it (the list queried and serialized from
the database, as before issue 14), side by side in one process, alternated.

Each iteration: one product the page shows changed by write-through (what an
API PATCH of its stock does, refilling that product's entry), then
`GET /api/products/?page=N` timed: a response miss by construction, since the
page depends on the rows it shows. Reports the median microseconds, SQL
queries and Redis round trips per list miss.

Environment as `make bench` (DATABASE_URL, REDIS_URL: the seeded bench
database); BENCH_ITERATIONS (200).
"""

from __future__ import annotations

import os
import random
import statistics
import time

from bench.instrument import count_round_trips


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/shop_bench")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ.setdefault("CACHE_KEY_PREFIX", "listmiss")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework import viewsets

    from catalog.api.views import ProductViewSet
    from catalog.models import Product

    trips = count_round_trips()

    two_tiers = ProductViewSet.list_from_entries

    def one_tier(self, request, items=None):  # as DRF builds it, from the database
        return viewsets.ModelViewSet.list(self, request)

    modes = {"two tiers": two_tiers, "one tier (before)": one_tier}
    iterations = int(os.environ.get("BENCH_ITERATIONS", "200"))
    rng = random.Random(5)
    client = Client(HTTP_HOST="127.0.0.1")
    results: dict[str, list[tuple[float, int, int]]] = {m: [] for m in modes}
    for i in range(iterations * len(modes)):
        name = list(modes)[i % len(modes)]
        ProductViewSet.list_from_entries = modes[name]
        url = f"/api/products/?page={rng.randint(1, 5)}"
        shown = [row["id"] for row in client.get(url).json()["results"]]
        # a product the page shows: the one write that makes this page miss
        product = Product.objects.get_cached(pk=rng.choice(shown))
        Product.objects.update_through(product, stock=rng.randint(0, 500))
        trips["n"] = 0
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
        assert response["X-Cache"] == "MISS", response["X-Cache"]
        results[name].append((elapsed * 1e6, len(queries), trips["n"]))
    ProductViewSet.list_from_entries = two_tiers

    print("| list miss after one write | us (median) | SQL | Redis round trips |")
    print("|---|---|---|---|")
    for name, rows in results.items():
        us = statistics.median(r[0] for r in rows)
        sql = statistics.median(r[1] for r in rows)
        rt = statistics.median(r[2] for r in rows)
        print(f"| {name} | {us:.0f} | {sql:.0f} | {rt:.0f} |")
    before = statistics.median(r[0] for r in results["one tier (before)"])
    after = statistics.median(r[0] for r in results["two tiers"])
    print(f"\none tier / two tiers: {before / after:.2f}x ({iterations} misses each)")


if __name__ == "__main__":
    main()
