"""
What a hit costs with rereads (caching.store.rereads) and with the READ script
for every hit, side by side in one process: the worker's CPU, the wall time and
the Redis server's CPU per hit.

    python -m bench.rereads [--batches 6] [--size 3000]

For one product detail (W1), one list page (W2) and one profile (W3), each
request sent to the project's WSGI application as gunicorn sends it, batches
alternate: as shipped (a hit this process has seen is reread), and with
rereads turned off in this process (every hit runs the READ script). The Redis
server's CPU comes from INFO (used_cpu_user + used_cpu_sys) around each batch:
run it on an otherwise idle machine, as nothing else should use that Redis.
Prints the medians.

Environment: DATABASE_URL and REDIS_URL as for make bench (default: shop_bench
and Redis database 14, seeded by make bench).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from bench.instrument import in_process_environment, wsgi_response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--size", type=int, default=3000)
    args = parser.parse_args()

    in_process_environment()
    import django

    django.setup()
    from caching.store import client, rereads
    from catalog.models import Product
    from project.wsgi import application
    from users.models import Profile

    product = Product.objects.filter(is_active=True).order_by("id").first()
    profile = Profile.objects.filter(is_public=True).order_by("id").first()
    if product is None or profile is None:
        raise SystemExit("needs make bench's data (shop_bench)")
    paths = {
        "W1 detail": f"/api/products/{product.pk}/",
        "W2 list page": "/api/products/?page=2&ordering=-price",
        "W3 profile": f"/api/profiles/{profile.user.username}/",
    }
    redis = client.connection()

    def redis_cpu() -> float:
        info = redis.info("cpu")
        return info["used_cpu_user"] + info["used_cpu_sys"]

    shipped = rereads.find, rereads.remember
    modes = {
        "reread": shipped,
        "script": (lambda key, group: None, lambda key, group, entry: None),
    }
    for path in paths.values():  # fill, then a hit, so a reread is kept
        for _ in range(3):
            status, headers, _ = wsgi_response(application, "GET", path)
            assert status == 200, (path, status)
        assert headers["X-Cache"] == "HIT", path
    gc.collect()
    gc.freeze()
    print("| request | hits by | worker CPU µs | wall µs | Redis CPU µs |")
    print("|---|---|---:|---:|---:|")
    for name, path in paths.items():
        rows: dict[str, list[tuple[float, float, float]]] = {m: [] for m in modes}
        for _ in range(args.batches):
            for mode, (find, remember) in modes.items():
                rereads.find, rereads.remember = find, remember  # type: ignore[assignment]
                server, cpu, wall = redis_cpu(), time.thread_time(), time.perf_counter()
                for _ in range(args.size):
                    wsgi_response(application, "GET", path)
                n = args.size
                rows[mode].append(
                    (
                        (time.thread_time() - cpu) / n * 1e6,
                        (time.perf_counter() - wall) / n * 1e6,
                        (redis_cpu() - server) / n * 1e6,
                    )
                )
        rereads.find, rereads.remember = shipped  # type: ignore[assignment]
        for mode, batches in rows.items():
            worker, wall, server = (
                statistics.median(b[i] for b in batches) for i in range(3)
            )
            print(f"| {name} | {mode} | {worker:.1f} | {wall:.1f} | {server:.1f} |")


if __name__ == "__main__":
    main()
