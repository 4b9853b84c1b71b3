"""
What a miss costs, in-process, against the same request with the cache off
(the views, serializers and queries of plain DRF + ORM: make bench's uncached
mode), side by side in one process.

    python -m bench.miss_cost [--batches 5] [--size 200] [--profile]

Each request goes to the project's WSGI application as gunicorn sends it.
Batches alternate: uncached (CACHING["ENABLED"] off), plain DRF (the same
detail from a stock ``RetrieveAPIView`` building its serializer per request,
bench.views: the yardstick outside the project, cache off too) and miss (the
cache on, every request for a product detail read for the first time since the
cache was emptied); the product ids of each batch are fresh. Prints the medians of
wall time and of the thread's CPU time (what the worker spends; the wall time
also holds the waits on PostgreSQL and Redis, and on a busy machine whatever
else ran), their ratios, SQL and Redis round trips per request, and with
--profile the top of a cProfile of the miss batches.

Environment: DATABASE_URL and REDIS_URL as for make bench (default: shop_bench
and Redis database 14, seeded by make bench).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import statistics
import time

from bench.instrument import count_round_trips, in_process_environment, wsgi_response

PLAIN = "/bench/plain-drf/products/{pk}/"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--path", default="/api/products/{pk}/")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="cProfile order")
    args = parser.parse_args()

    in_process_environment()
    os.environ["BENCH_ENDPOINTS"] = "1"  # the plain DRF detail
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    from caching.testing import delete_layer_keys
    from catalog.models import Product
    from project.wsgi import application  # sets Django up

    ids = list(
        Product.objects.filter(is_active=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    needed = (3 * args.batches + 1) * args.size + 50
    if len(ids) < needed:
        raise SystemExit(f"needs {needed} active products (make bench seeds 10,000)")
    delete_layer_keys()
    cache_off = override_settings(CACHING={**settings.CACHING, "ENABLED": False})
    for pk in ids[-50:]:  # warm the process: imports, routes, connections
        wsgi_response(application, "GET", args.path.format(pk=pk))
        with cache_off:
            wsgi_response(application, "GET", PLAIN.format(pk=pk))
    gc.collect()
    gc.freeze()  # as gunicorn's post_worker_init does (project/gunicorn_conf.py)
    trips = count_round_trips()
    results: dict[str, list[tuple[float, float, float, float]]] = {
        "uncached": [],
        "plain DRF": [],
        "miss": [],
    }
    paths = {"uncached": args.path, "plain DRF": PLAIN, "miss": args.path}
    with cache_off:  # the yardstick answers what the project's view answers
        same = ids[-1]
        assert (
            wsgi_response(application, "GET", PLAIN.format(pk=same))[2]
            == wsgi_response(application, "GET", args.path.format(pk=same))[2]
        ), "the plain DRF detail differs from the project's"
    fresh = iter(ids)
    for _ in range(args.batches):
        for mode in results:
            batch = [next(fresh) for _ in range(args.size)]
            trips["n"] = 0
            if mode != "miss":
                cache_off.enable()
            started, cpu_started = time.perf_counter(), time.thread_time()
            with CaptureQueriesContext(connection) as queries:
                for pk in batch:
                    status, _, _ = wsgi_response(
                        application, "GET", paths[mode].format(pk=pk)
                    )
                    assert status == 200, (pk, status)
            elapsed = time.perf_counter() - started
            cpu = time.thread_time() - cpu_started
            if mode != "miss":
                cache_off.disable()
            n = len(batch)
            results[mode].append(
                (elapsed / n * 1e6, cpu / n * 1e6, len(queries) / n, trips["n"] / n)
            )
    print("| request | wall µs | CPU µs | SQL/req | Redis RT/req |")
    print("|---|---:|---:|---:|---:|")
    for mode, rows in results.items():
        wall, cpu = (statistics.median(r[i] for r in rows) for i in (0, 1))
        sql, round_trips = rows[0][2], rows[0][3]
        print(f"| {mode} | {wall:.0f} | {cpu:.0f} | {sql:.2f} | {round_trips:.2f} |")
    print("\n(medians of batches)")
    for index, measure in enumerate(("wall time", "CPU time")):
        miss = statistics.median(r[index] for r in results["miss"])
        for base in ("uncached", "plain DRF"):
            other = statistics.median(r[index] for r in results[base])
            print(f"miss / {base} by {measure}: {miss / other:.2f}x")
    if args.profile:  # after the measurement, on fresh products again
        profiler = cProfile.Profile()
        batch = [next(fresh) for _ in range(args.size)]
        profiler.enable()
        for pk in batch:
            wsgi_response(application, "GET", args.path.format(pk=pk))
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(40)
        print(out.getvalue())


if __name__ == "__main__":
    main()
