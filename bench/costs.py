"""
Per-request costs, measured in-process: SQL queries and Redis round trips of a
workload's requests (after one warming pass), and the hit path's microseconds.

    python -m bench.costs LINES_FILE [--token T] [--auth-all]

Prints one JSON object. Run with the environment of the mode being measured
(CACHE_ENABLED=0 for uncached). Bench-only instrumentation: it wraps redis-py's
client to count round trips; nothing here runs in the app.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lines")
    parser.add_argument("--token", default="")
    parser.add_argument("--auth-all", action="store_true")
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    import redis
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    trips = {"n": 0}
    plain, piped = redis.Redis.execute_command, redis.client.Pipeline.execute

    def counted(self, *a, **k):
        trips["n"] += 1
        return plain(self, *a, **k)

    def counted_pipe(self, *a, **k):
        trips["n"] += 1
        return piped(self, *a, **k)

    redis.client.Pipeline.execute = counted_pipe
    redis.Redis.execute_command = counted

    with open(args.lines) as file:
        lines = file.read().splitlines()[: args.count]
    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"HTTP_AUTHORIZATION": f"Token {args.token}"} if args.token else {}

    def replay() -> tuple[int, int, float, int]:
        trips["n"] = 0
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            for line in lines:
                method, path, *body = line.split(" ", 2)
                extra = headers if (args.auth_all or method != "GET") else {}
                if method == "GET":
                    response = client.get(path, **extra)
                else:
                    response = client.patch(
                        path, body[0], content_type="application/json", **extra
                    )
                assert response.status_code < 500, (path, response.status_code)
        elapsed = time.perf_counter() - started
        return len(queries), trips["n"], elapsed, len(lines)

    replay()  # warm: fill the cache and the token
    sql, round_trips, elapsed, n = replay()
    print(
        json.dumps(
            {
                "sql_per_request": sql / n,
                "redis_round_trips_per_request": round_trips / n,
                "microseconds_per_request": elapsed / n * 1e6,
            }
        )
    )


if __name__ == "__main__":
    main()
