"""
`python -m bench.compare REF`: the hit path of this checkout against another
commit (REF, e.g. `origin/main` or a hash), side by side in one run.

Checks REF out into a temporary git worktree, starts both as `make run` does
(gunicorn with make run's workers, each with its own key prefix on the same
Redis and the same database), warms both, then runs the hit workloads of
`make bench` (W1 product details, W2 product list pages, W3 profiles) against
each in turn,
round-robin, and reports medians and the ratio this/REF. Then the in-process
cost of a hit (bench.costs: microseconds, SQL queries, Redis round trips) of
each tree, also alternated.

Environment as `make bench` (DATABASE_URL, REDIS_URL, BENCH_SECONDS,
BENCH_ROUNDS). Needs wrk.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.run import (
    PYTHON,
    ROOT,
    base_env,
    log,
    prime,
    run_wrk,
    setup_data,
    start_server,
)
from bench.run import workload_lines as all_workloads

TREES = ("ref", "this")
PORTS = {"ref": 8121, "this": 8122}
WORKLOADS = ("W1", "W2", "W3")  # BENCH_WORKLOADS=W2,W6 for others


def start(tree: Path, env: dict, name: str) -> subprocess.Popen:
    """Serve the tree at ``tree`` as `make run` does, with its own key prefix."""
    tree_env = {**env, "CACHE_KEY_PREFIX": f"cmp{name}"}
    return start_server(tree_env, "cached", port=PORTS[name], cwd=tree)


def hit_cost(tree: Path, env: dict, name: str, paths: Path, token: str) -> dict:
    out = subprocess.run(
        [PYTHON, "-m", "bench.costs", str(paths), "--token", token, "--count", "2000"],
        cwd=tree, env={**env, "CACHE_KEY_PREFIX": f"cmp{name}"},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) != 2:
        log(__doc__.strip().splitlines()[0])
        return 2
    ref = sys.argv[1]
    env = {**base_env(), "BENCH_ENDPOINTS": "0"}
    seconds = int(env.get("BENCH_SECONDS", "8"))
    rounds = int(env.get("BENCH_ROUNDS", "3"))
    token = setup_data(env)
    wanted = env.get("BENCH_WORKLOADS", ",".join(WORKLOADS)).split(",")
    workloads = {
        k: v for k, v in all_workloads(env, random.Random(11)).items() if k in wanted
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    worktree = workdir / "ref"
    subprocess.run(["git", "worktree", "add", "--detach", str(worktree), ref],
                   cwd=ROOT, check=True, capture_output=True)  # fmt: skip
    trees = {"ref": worktree, "this": ROOT}
    files = {}
    for name, lines in workloads.items():
        files[name] = workdir / f"{name}.txt"
        files[name].write_text("\n".join(lines) + "\n")
    servers = {}
    results: dict = {w: {t: [] for t in TREES} for w in workloads}
    costs: dict = {w: {t: [] for t in TREES} for w in workloads}
    try:
        servers = {name: start(trees[name], env, name) for name in TREES}
        for round_no in range(1, rounds + 1):
            for w in workloads:
                order = TREES if round_no % 2 else TREES[::-1]
                for name in order:
                    url = f"http://127.0.0.1:{PORTS[name]}"
                    prime(PORTS[name], workloads[w], token, False)
                    run_wrk(url, files[w], 2, token, False)  # warm-up
                    result = run_wrk(url, files[w], seconds, token, False)
                    results[w][name].append(result)
                    log(f"round {round_no} {w} {name:<4} {result['rps']:>8.0f} "
                        f"req/s p99 {result['p99']:.2f} ms")  # fmt: skip
        for proc in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
        servers = {}
        for round_no in range(rounds):
            for w in workloads:
                for name in TREES if round_no % 2 == 0 else TREES[::-1]:
                    costs[w][name].append(
                        hit_cost(trees[name], env, name, files[w], token)
                    )
    finally:
        for proc in servers.values():
            proc.terminate()
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)],
                       cwd=ROOT, capture_output=True)  # fmt: skip
    print(report(ref, results, costs, seconds, rounds))
    return 0


def report(ref: str, results: dict, costs: dict, seconds: int, rounds: int) -> str:
    def med(rows: list[dict], field: str) -> float:
        return statistics.median(r[field] for r in rows)

    lines = [
        f"# Hit path: this checkout against {ref}",
        "",
        f"wrk -t2 -c16, {seconds} s x {rounds} rounds alternated, medians; "
        "in-process cost: bench.costs, 2000 requests per round.",
        "",
        "| workload | req/s ref | req/s this | this/ref | p99 ms ref | p99 ms this "
        "| us/hit ref | us/hit this | this/ref | SQL, Redis trips per hit (this) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for w in results:
        r, t = results[w]["ref"], results[w]["this"]
        cr, ct = costs[w]["ref"], costs[w]["this"]
        us_r, us_t = (
            med(cr, "microseconds_per_request"),
            med(ct, "microseconds_per_request"),
        )
        lines.append(
            f"| {w} | {med(r, 'rps'):.0f} | {med(t, 'rps'):.0f} | "
            f"{med(t, 'rps') / med(r, 'rps'):.3f} | {med(r, 'p99'):.2f} | "
            f"{med(t, 'p99'):.2f} | {us_r:.0f} | {us_t:.0f} | {us_t / us_r:.3f} | "
            f"{med(ct, 'sql_per_request'):.2f}, "
            f"{med(ct, 'redis_round_trips_per_request'):.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
