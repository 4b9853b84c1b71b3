"""
`python -m bench.list_miss`: what a list miss costs after one write,
with the ORM tier under the response tier (ids from a cached query, products
from their own entries) and without it (the list queried and serialized from
the database, as before issue 14), side by side in one process, alternated.

Each iteration: one item the page shows changed by write-through (a product's
stock, as an API PATCH does, refilling its detail entries; a profile's display
name, as PATCH /api/profiles/me/ does), then `GET /api/products/?page=N` or
`GET /api/profiles/?page=N` timed, sent to the project's WSGI application as
gunicorn sends it (the response tier's read at the WSGI level): a response
miss by construction, since the page depends on the rows it shows. Reports
the median microseconds, SQL queries and Redis round trips per list miss, for
both lists.

Environment as `make bench` (DATABASE_URL, REDIS_URL: the seeded bench
database); BENCH_ITERATIONS (200).
"""

from __future__ import annotations

import os
import random
import statistics
import time

from bench.instrument import count_round_trips, wsgi_response


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    os.environ.setdefault("DATABASE_URL", "postgres://root@127.0.0.1:5432/shop_bench")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ.setdefault("CACHE_KEY_PREFIX", "listmiss")
    import json

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework import viewsets

    from caching.http import recipes
    from caching.http.decorator import CachedReadsMixin
    from catalog.models import Product
    from project.wsgi import application
    from users import services
    from users.models import Profile

    trips = count_round_trips()
    two_tiers = CachedReadsMixin.list_from_entries
    assemble = recipes.assemble

    def one_tier(self, request, items=None):  # as DRF builds it, from the database
        return viewsets.ModelViewSet.list(self, request)

    def no_recipe(key, lookup):  # the next miss is not assembled at the WSGI level
        return None

    def write_product(pk: int, rng: random.Random) -> None:
        product = Product.objects.get_cached(pk=pk)
        Product.objects.update_through(product, stock=rng.randint(0, 500))

    def write_profile(username: str, rng: random.Random) -> None:
        profile = Profile.objects.select_related("user").get(user__username=username)
        services.profile_update(profile=profile, display_name=f"n{rng.random()}")

    lists = {  # list: (path, the field an item is written by, its write)
        "products": ("/api/products/", "id", write_product),
        "profiles": ("/api/profiles/", "username", write_profile),
    }
    modes = {  # mode: (the list's miss path, the WSGI level's)
        "two tiers": (two_tiers, assemble),
        "one tier (before)": (one_tier, no_recipe),
    }
    iterations = int(os.environ.get("BENCH_ITERATIONS", "200"))
    rng = random.Random(5)
    results: dict[tuple[str, str], list[tuple[float, int, int]]] = {
        (name, mode): [] for name in lists for mode in modes
    }
    runs = list(results)
    for i in range(iterations * len(runs)):
        name, mode = runs[i % len(runs)]
        CachedReadsMixin.list_from_entries, recipes.assemble = modes[mode]  # type: ignore[method-assign]
        path, field, write = lists[name]
        url = f"{path}?page={rng.randint(1, 5)}"
        _, _, page = wsgi_response(application, "GET", url)
        shown = [row[field] for row in json.loads(page)["results"]]
        write(rng.choice(shown), rng)  # an item the page shows: the page misses
        trips["n"] = 0
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            status, headers, _ = wsgi_response(application, "GET", url)
            elapsed = time.perf_counter() - started
        assert (status, headers["X-Cache"]) == (200, "MISS"), (status, headers)
        results[name, mode].append((elapsed * 1e6, len(queries), trips["n"]))
    CachedReadsMixin.list_from_entries = two_tiers  # type: ignore[method-assign]
    recipes.assemble = assemble

    print("| list miss after one write | us (median) | SQL | Redis round trips |")
    print("|---|---|---|---|")
    for (name, mode), rows in results.items():
        us = statistics.median(r[0] for r in rows)
        sql = statistics.median(r[1] for r in rows)
        rt = statistics.median(r[2] for r in rows)
        print(f"| {name}, {mode} | {us:.0f} | {sql:.0f} | {rt:.0f} |")
    print()
    for name in lists:
        before = statistics.median(r[0] for r in results[name, "one tier (before)"])
        after = statistics.median(r[0] for r in results[name, "two tiers"])
        print(f"{name}: one tier / two tiers: {before / after:.2f}x", end=" ")
        print(f"({iterations} misses each)")


if __name__ == "__main__":
    main()
