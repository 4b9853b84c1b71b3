"""
Per-request costs, measured in-process: SQL queries and Redis round trips of a
workload's requests (after one warming pass), and microseconds per request,
each request sent to the project's WSGI application as gunicorn sends it (so
hits take the WSGI hit path, caching.http.wsgi).

    python -m bench.costs LINES_FILE [--token T] [--auth-all]

Prints one JSON object. Run with the environment of the mode being measured
(CACHE_ENABLED=0 for uncached).
"""

from __future__ import annotations

import argparse
import json
import os
import time

from bench.instrument import count_round_trips, send_line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lines")
    parser.add_argument("--token", default="")
    parser.add_argument("--auth-all", action="store_true")
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from project.wsgi import application

    trips = count_round_trips()
    with open(args.lines) as file:
        lines = file.read().splitlines()[: args.count]
    token = {"Authorization": f"Token {args.token}"} if args.token else {}

    def replay() -> tuple[int, int, float, int]:
        trips["n"] = 0
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            for line in lines:
                _, status, _ = send_line(
                    application, line, token, auth_all=args.auth_all
                )
                assert status < 500, (line, status)
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
