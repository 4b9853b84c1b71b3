"""
Where a request's CPU goes, side by side with plain Django: the CPU time the
gunicorn workers, the Redis server and wrk spent over a wrk run, per request.

    python -m bench.cpu_split        (after make bench has seeded shop_bench)

Serves this project (cached) and plain Django's constant (bench/plain_django.py)
as `make bench` does, then alternates, for BENCH_ROUNDS rounds of BENCH_SECONDS:
W1 hits against the constant of W1's body size, W2 hits against W2's, and W6
(W2 with 2% PATCHes) on its own. CPU times come from /proc (user + system) of
each server's worker processes, of the Redis server on REDIS_URL's port, of the
PostgreSQL server's processes (those of user postgres) and of wrk (as a child of
this process). CPU per request is steadier than requests per second on a noisy
machine: W6's total against W2's estimates the share of W2's rate W6 keeps.
Run it on an otherwise idle machine: anything else running is not counted, but
slows both.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from bench.run import (
    PORTS,
    ROOT,
    WORKERS,
    base_env,
    log,
    prime,
    publish,
    setup_data,
    start_server,
    workload_lines,
)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def redis_server(url: str) -> int:
    port = urlparse(url).port or 6379
    out = subprocess.run(["pgrep", "-f", f"redis-server.*:{port}"],
                         capture_output=True, text=True)  # fmt: skip
    return int(out.stdout.split()[0])


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of each of the PostgreSQL server's processes now running."""
    out = subprocess.run(["pgrep", "-u", "postgres"], capture_output=True, text=True)
    found = {}
    for pid in map(int, out.stdout.split()):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            found[pid] = cpu_seconds(pid)
    return found


def postgres_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the PostgreSQL processes spent between two samples: those
    running at the end, from their first sample or their start. A backend that
    ended mid-run takes its time with it (a small undercount), but not its
    whole life's time (which made the column negative)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def measure(
    port: int, paths: Path, seconds: int, redis_pid: int, workers: list[int], token: str
):
    def now() -> tuple:
        return (sum(map(cpu_seconds, workers)), cpu_seconds(redis_pid),
                postgres_cpu(), os.times())  # fmt: skip

    before = now()
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(ROOT / "bench" / "paths.lua"),
         f"http://127.0.0.1:{port}"],
        env={**os.environ, "BENCH_PATHS": str(paths), "BENCH_TOKEN": token},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    after = now()
    count = int(re.search(r"(\d+) requests in", out).group(1))
    wrk = (after[3].children_user + after[3].children_system) - (
        before[3].children_user + before[3].children_system
    )
    per = {
        "workers": (after[0] - before[0]) / count * 1e6,
        "redis": (after[1] - before[1]) / count * 1e6,
        "postgres": postgres_spent(before[2], after[2]) / count * 1e6,
        "wrk": wrk / count * 1e6,
    }
    per["total"] = sum(per.values())
    return count / seconds, per


def main() -> int:
    seconds = int(os.environ.get("BENCH_SECONDS", "5"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "2"))
    env = base_env()
    token = setup_data(env)
    workloads = workload_lines(env, random.Random(11))
    workdir = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    files = {}
    for name, size in (("W1", 445), ("W2", 9180)):
        files[name] = workdir / f"{name}.txt"
        files[name].write_text("\n".join(workloads[name]) + "\n")
        files[f"{name} constant"] = workdir / f"{name}-constant.txt"
        files[f"{name} constant"].write_text(f"GET /bench/constant/?size={size}\n")
    files["W6"] = workdir / "W6.txt"
    files["W6"].write_text("\n".join(workloads["W6"]) + "\n")
    servers = {mode: start_server(env, mode) for mode in ("cached", "django-constant")}
    redis_pid = redis_server(env["REDIS_URL"])
    rows = []
    try:
        for name in ("W1", "W2"):
            prime(PORTS["cached"], workloads[name], token, False)
        runs = [
            (name, mode, label, served)
            for name in ("W1", "W2")
            for mode, label, served in (
                ("cached", name, "this project, hits"),
                ("django-constant", f"{name} constant", "plain Django"),
            )
        ]
        runs.append(("W6", "cached", "W6", "this project, W2 + 2% PATCH"))
        for round_no in range(1, rounds + 1):
            for name, mode, label, served in runs:
                if name == "W6":  # back to W2's steady state, as make bench does
                    prime(PORTS["cached"], workloads["W6"], token, False)
                workers = children(servers[mode].pid)
                rps, per = measure(
                    PORTS[mode], files[label], seconds, redis_pid, workers, token
                )
                rows.append((round_no, name, served, rps, per))
                log(f"round {round_no} {name} {served}: {rps:.0f} req/s {per}")
    finally:
        for proc in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
    lines = [
        f"# bench.cpu_split, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"gunicorn {WORKERS} sync workers per server, wrk -t2 -c16, {seconds} s per "
        f"run, {rounds} rounds alternated; CPU µs per request from /proc.",
        "",
        "| round | workload | served | req/s | workers µs | Redis µs | PostgreSQL µs "
        "| wrk µs | total µs | cores busy |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    cores = len(os.sched_getaffinity(0))
    for round_no, name, served, rps, per in rows:
        busy = per["total"] * rps / 1e6 / cores
        lines.append(
            f"| {round_no} | {name} | {served} | {rps:.0f} | {per['workers']:.0f} "
            f"| {per['redis']:.0f} | {per['postgres']:.0f} | {per['wrk']:.0f} "
            f"| {per['total']:.0f} | {busy:.0%} |"
        )
    total = {(r, name, served): per["total"] for r, name, served, _, per in rows}
    lines += ["", "By CPU per request (what the same cores would serve), per round:"]
    for r in range(1, rounds + 1):
        plain = {n: total[r, n, "plain Django"] for n in ("W1", "W2")}
        hits = {n: total[r, n, "this project, hits"] for n in ("W1", "W2")}
        w6 = total[r, "W6", "this project, W2 + 2% PATCH"]
        lines.append(
            f"- round {r}: W1 hits {plain['W1'] / hits['W1']:.2f}x and W2 hits "
            f"{plain['W2'] / hits['W2']:.2f}x of plain Django; "
            f"W6 {hits['W2'] / w6:.2f}x of W2"
        )
    table = "\n".join(lines) + "\n"
    publish(table, "-cpu")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
