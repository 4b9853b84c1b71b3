"""
What the access log and the request metrics cost, side by side in one run.

    python -m bench.observability        (after make bench has seeded shop_bench)

Serves, each with gunicorn's sync workers as make run does: plain Django
answering a constant (bench/plain_django.py), and this project with the access
log (gunicorn's, to a file) and django-prometheus' request metrics each on or
off. Measures with wrk (2 threads, 16 connections) this project's constant
(/bench/constant/, through its whole middleware stack) and W1's cached product
details (every request a hit, answered at the WSGI level), round-robin for
BENCH_ROUNDS rounds of BENCH_SECONDS, and prints the medians.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.run import (
    WORKERS,
    base_env,
    log,
    prime,
    publish,
    run_wrk,
    setup_data,
    start_server,
    workload_lines,
)

# name: (mode, access log on, request metrics on)
SERVERS = {
    "plain Django": ("django-constant", False, False),
    "log + metrics": ("cached", True, True),
    "metrics only": ("cached", False, True),
    "log only": ("cached", True, False),
    "neither": ("cached", False, False),
}
# what is measured: (label, server, workload)
RUNS = [
    ("plain Django, constant", "plain Django", "constant"),
    ("project constant, access log + metrics", "log + metrics", "constant"),
    ("project constant, metrics only", "metrics only", "constant"),
    ("project constant, access log only", "log only", "constant"),
    ("project constant, neither", "neither", "constant"),
    ("W1 hit, access log + metrics", "log + metrics", "W1"),
    ("W1 hit, metrics only", "metrics only", "W1"),
    ("W1 hit, neither", "neither", "W1"),
]


def main() -> int:
    seconds = int(os.environ.get("BENCH_SECONDS", "6"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    env = base_env()
    token = setup_data(env)
    w1 = workload_lines(env, random.Random(11))["W1"]
    workdir = Path(tempfile.mkdtemp(prefix="bench-obs-"))
    files = {"W1": workdir / "W1.txt", "constant": workdir / "constant.txt"}
    files["W1"].write_text("\n".join(w1) + "\n")
    files["constant"].write_text("GET /bench/constant/?size=445\n")
    ports, servers = {}, []
    try:
        for number, (name, (mode, access_log, metrics)) in enumerate(SERVERS.items()):
            ports[name] = 8120 + number
            logfile = workdir / f"access-{number}.log"
            server_env = {
                **env,
                "ACCESS_LOG": str(logfile) if access_log else "",
                "REQUEST_METRICS": "1" if metrics else "0",
            }
            servers.append(start_server(server_env, mode, port=ports[name]))
        results: dict[str, list[dict]] = {label: [] for label, _, _ in RUNS}
        for round_no in range(1, rounds + 1):
            for label, server, workload in RUNS:
                url = f"http://127.0.0.1:{ports[server]}"
                if workload == "W1":
                    prime(ports[server], w1, token, False)
                run_wrk(url, files[workload], 2, token, False)  # warm-up
                result = run_wrk(url, files[workload], seconds, token, False)
                results[label].append(result)
                log(f"round {round_no} {label}: {result['rps']:.0f} req/s")
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=30)
    base = statistics.median(r["rps"] for r in results[RUNS[0][0]])
    rows = [
        f"# bench.observability, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"gunicorn {WORKERS} sync workers each, wrk -t2 -c16, "
        f"{seconds} s x {rounds} rounds "
        "round-robin, medians; access log: gunicorn's, to a file.",
        "",
        "| served | req/s | p50 ms | p99 ms | vs plain Django | µs of worker time "
        "per request (2 cores / req/s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, _, _ in RUNS:
        rps = statistics.median(r["rps"] for r in results[label])
        p50 = statistics.median(r["p50"] for r in results[label])
        p99 = statistics.median(r["p99"] for r in results[label])
        rows.append(
            f"| {label} | {rps:.0f} | {p50:.2f} | {p99:.2f} | {rps / base:.2f}x "
            f"| {2e6 / rps:.0f} |"
        )
    table = "\n".join(rows) + "\n"
    publish(table, "-obs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
