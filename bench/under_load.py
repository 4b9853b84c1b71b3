"""
What each kind of request costs inside the server while wrk loads it: where a
workload's p99 comes from.

    python -m bench.under_load [--workload W6] [--cold] [--seconds 8]

Starts the cached server as make bench does, but with bench/recording_conf.py
(gunicorn's request hooks record, per request, the worker's wall time, its CPU
time and its context switches, from the first byte read to the last written),
then runs the workload as make bench's cached mode (primed, 2 s warm-up) or,
with --cold, as its cold mode (cache cleared, 3 s warm-up, the measured run
going on from there). Prints wrk's p50 and p99 (they include the wait in the
listen queue) and, per kind of request (a hit, a miss, a write), its share,
wall time and CPU time in the worker, and the switches: voluntary (waiting on
PostgreSQL, Redis or the socket) and involuntary (preempted by the scheduler).

Under wrk's closed loop every request waits in the queue about as long as the
median one; the median request adds a hit's time to that, and while more than
1% of the requests are of a slower kind, the p99 adds one of those.

Environment as make bench (DATABASE_URL, REDIS_URL, WEB_CONCURRENCY,
BENCH_GUNICORN_ARGS).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.run import (
    COLD_SECONDS,
    COLD_WARMUP,
    GUNICORN_ARGS,
    PORTS,
    WORKERS,
    base_env,
    manage,
    prime,
    publish,
    run_wrk,
    setup_data,
    start_server,
    workload_lines,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workload", default="W6")
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()

    env = base_env()
    token = setup_data(env)
    lines = workload_lines(env, random.Random(11))[args.workload]
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    paths = workdir / f"{args.workload}.txt"
    paths.write_text("\n".join(lines) + "\n")
    records = workdir / "records"
    env["BENCH_RECORD_DIR"] = str(records)
    auth_all = args.workload == "W5"
    port = PORTS["cached"]
    url = f"http://127.0.0.1:{port}"

    server = start_server(env, "cached", config="bench/recording_conf.py")
    try:
        if args.cold:
            manage({**env, "CACHE_ENABLED": "1"}, "cache_clear", "--all")
            warmed = run_wrk(url, paths, COLD_WARMUP, token, auth_all)
            skip, seconds = warmed["requests"] // 2, COLD_SECONDS
        else:
            prime(port, lines, token, auth_all)
            run_wrk(url, paths, 2, token, auth_all)
            skip, seconds = 0, args.seconds
        started = time.time()
        result = run_wrk(url, paths, seconds, token, auth_all, skip)
        ended = time.time()
    finally:
        server.terminate()  # the workers write their last records as they exit
        server.wait(timeout=30)
    rows = [
        row.split("\t")
        for tsv in records.glob("*.tsv")
        for row in tsv.read_text().splitlines()
    ]
    shutil.rmtree(workdir)
    measured = [row for row in rows if started <= float(row[0]) <= ended]
    mode = "-cold" if args.cold else ""
    publish(report(args, result, measured), f"-under-load-{args.workload}{mode}")


def report(args: argparse.Namespace, result: dict, measured: list[list[str]]) -> str:
    kinds: dict[str, list[tuple[float, ...]]] = {}
    for _, method, cache, wall, cpu, waits, preempted in measured:
        kind = f"{method} {cache if cache != '-' else ''}".strip()
        kinds.setdefault(kind, []).append(
            (float(wall) / 1000, float(cpu) / 1000, int(waits), int(preempted))
        )

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    p50, p99 = result["p50"], result["p99"]
    mode = "cold" if args.cold else "cached"
    lines = [
        f"# Under load: {args.workload}, {mode} mode",
        "",
        f"`python -m bench.under_load --workload {args.workload}"
        f"{' --cold' if args.cold else ''}`: gunicorn {WORKERS} workers "
        f"({' '.join(GUNICORN_ARGS) or 'sync'}), wrk -t2 -c16, "
        f"{result['requests']} requests, {result['rps']:.0f} req/s; "
        f"wrk p50 {p50:.2f} ms, p99 {p99:.2f} ms (p99/p50 {p99 / p50:.2f}).",
        "",
        "In the worker, from the request's first byte read to its last written "
        "(the wait in the listen queue is wrk's figure less these):",
        "",
        "| kind | share | wall p50 ms | wall p99 ms | CPU p50 ms | CPU / hit's "
        "| waits/req | preempted/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    hit_cpu = statistics.median(r[1] for r in kinds.get("GET HIT", [(0, 1e-9)]))
    for kind, found in sorted(kinds.items(), key=lambda item: -len(item[1])):
        walls, cpus = [r[0] for r in found], [r[1] for r in found]
        lines.append(
            f"| {kind} | {len(found) / len(measured):.1%} | "
            f"{statistics.median(walls):.2f} | {pct(walls, 0.99):.2f} | "
            f"{statistics.median(cpus):.2f} | "
            f"{statistics.median(cpus) / hit_cpu:.0f}x | "
            f"{statistics.mean(r[2] for r in found):.1f} | "
            f"{statistics.mean(r[3] for r in found):.1f} |"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
