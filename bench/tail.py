"""
What a workload's slowest requests are, in-process: its requests replayed one
at a time to the project's WSGI application (as gunicorn sends them), each
timed and sorted by what answered it: a hit, a miss (X-Cache), a write.

    python -m bench.tail [--workload W6] [--count 4000] [--cold]

Cached (the default): one pass over the lines first, then the measured pass
over the next ones, as make bench's cached mode meets them. --cold: the cache
cleared, then the first lines measured, as make bench's cold mode starts. Prints,
per kind, its share of the requests, median and 99th-percentile wall time,
median CPU time of the thread, and that CPU against a hit's. Under wrk's closed
loop every request waits about as long as the median one, so while more than 1%
of the requests are of a kind ten times a hit's work, the p99 of the mix is one
of them (make bench's "not hit" column).

Environment as make bench (DATABASE_URL, REDIS_URL: the seeded bench database).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from bench.instrument import in_process_environment, send_line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", default="W6")
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()

    in_process_environment()
    import django

    django.setup()
    from bench.run import base_env, setup_data, workload_lines
    from caching.testing import delete_layer_keys
    from project.wsgi import application

    env = base_env()
    token = setup_data(env)
    lines = workload_lines(env, random.Random(11))[args.workload]
    writer = {"Authorization": f"Token {token}"}

    def send(line: str) -> tuple[str, float, float]:
        started, cpu = time.perf_counter(), time.thread_time()
        method, _, headers = send_line(application, line, writer)
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - started
        kind = headers.get("X-Cache", "?").lower() if method == "GET" else "write"
        return kind, wall * 1e6, cpu * 1e6

    if args.cold:
        delete_layer_keys()
        measured = lines[: args.count]
    else:
        for line in lines[: args.count]:
            send(line)
        measured = lines[args.count : 2 * args.count]
    kinds: dict[str, list[tuple[float, float]]] = {}
    for line in measured:
        kind, wall, cpu = send(line)
        kinds.setdefault(kind, []).append((wall, cpu))

    hit_cpu = statistics.median(cpu for _, cpu in kinds.get("hit", [(0, 1)]))
    print(
        f"{args.workload}, {'cold' if args.cold else 'cached'}, "
        f"{len(measured)} requests"
    )
    print("| kind | share | wall p50 µs | wall p99 µs | CPU p50 µs | CPU / hit's |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, rows in sorted(kinds.items(), key=lambda item: -len(item[1])):
        walls = sorted(wall for wall, _ in rows)
        cpu = statistics.median(cpu for _, cpu in rows)
        p99 = walls[min(len(walls) - 1, int(len(walls) * 0.99))]
        print(
            f"| {kind} | {len(rows) / len(measured):.1%} | "
            f"{statistics.median(walls):.0f} | {p99:.0f} | {cpu:.0f} | "
            f"{cpu / hit_cpu:.1f}x |"
        )


if __name__ == "__main__":
    main()
