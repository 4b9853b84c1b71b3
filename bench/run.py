"""
`make bench`: the cache measured side by side with the database alone and with a
constant body, on the same machine, in one run.

Starts the app as `make run` does (gunicorn, two workers per core, DEBUG off)
twice: with the cache (`cached`) and with CACHE_ENABLED=0 (`uncached`); the
`ceiling` is a bench-only URL of the cached server answering a constant body of
the workload's average size, and `django-constant` the same body from plain Django
(bench/plain_django.py) under the same gunicorn settings. `cold` is the cached
server from an empty cache: cleared, 3 s of warm-up, then 10 s measured going on
where the warm-up's requests left off, no priming (read-only workloads). Seeds
the default dataset (10,000 products, 1,000 users) when the database is empty,
warms the cache, then runs each workload in each mode with wrk (2 threads, 16
connections), round-robin for several rounds, and reports medians; for the
cached and cold modes also the share of requests a response hit did not answer.

Environment: DATABASE_URL and REDIS_URL (default: PostgreSQL database
shop_bench and Redis database 14 on this machine), BENCH_SECONDS (8),
BENCH_ROUNDS (3), BENCH_COLD_SECONDS (10), BENCH_WORKLOADS and BENCH_MODES
(comma-separated subsets, e.g. W1,W2 and cached,django-constant),
BENCH_ACCESS_LOG (gunicorn's access log in every mode: "-" as make run ships
it; off by default), WEB_CONCURRENCY (workers; default two per core, as make
run) and BENCH_GUNICORN_ARGS (more gunicorn options for every mode, e.g.
"--threads 4"). Needs wrk:
`apt-get install wrk`.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# ceiling: a constant body through this project's stack; django-constant: the
# same body from plain Django (bench/plain_django.py), the yardstick outside.
# cold: the cached server from an empty cache (read-only workloads only).
MODES = ("cached", "uncached", "ceiling", "django-constant", "cold")
COLD_WORKLOADS = ("W1", "W2", "W3")
COLD_WARMUP = 3
COLD_SECONDS = int(os.environ.get("BENCH_COLD_SECONDS", "10"))
# make run's default (project/gunicorn_conf.py), for every mode alike
WORKERS = os.environ.get("WEB_CONCURRENCY") or str(2 * len(os.sched_getaffinity(0)))
# More gunicorn options for every mode alike (e.g. "--threads 4"): to try
# other serving set-ups against the same yardsticks.
GUNICORN_ARGS = shlex.split(os.environ.get("BENCH_GUNICORN_ARGS", ""))
PORTS = {"cached": 8101, "uncached": 8102, "django-constant": 8103}
SERVER_OF = {"ceiling": "cached", "cold": "cached"}  # modes served by another
HIT_MODES = ("cached", "cold")  # their share of requests not answered by a hit


def log(message: str) -> None:
    print(message, flush=True)


def base_env() -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", "postgres://root@127.0.0.1:5432/shop_bench"
        ),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "DJANGO_DEBUG": "0",
        "BENCH_ENDPOINTS": "1",
        "WEB_CONCURRENCY": WORKERS,
        # off in every mode; BENCH_ACCESS_LOG=- logs to stdout, as make run does
        "ACCESS_LOG": os.environ.get("BENCH_ACCESS_LOG", ""),
        "CACHE_LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Writes invalidate exactly; the TTL is only a backstop. With the default
        # 300 s the Zipf tail would expire mid-run and the rounds would drift.
        "CACHE_TTL": os.environ.get("CACHE_TTL", "3600"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True,
    ).stdout  # fmt: skip


def ensure_database(env: dict) -> None:
    url = env["DATABASE_URL"]
    if url.startswith("postgres"):
        name = url.rsplit("/", 1)[1]
        subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "root", name],
                       capture_output=True)  # fmt: skip


def setup_data(env: dict) -> str:
    """Migrate, seed the default dataset if empty; return a staff token."""
    ensure_database(env)
    manage(env, "migrate", "--noinput", "-v0")
    log(manage(env, "seed_catalog", "--if-empty").strip())
    script = (
        "from django.contrib.auth import get_user_model;"
        "from rest_framework.authtoken.models import Token;"
        "u,_=get_user_model().objects.get_or_create(username='bench-staff',"
        "defaults={'is_staff':True});"
        "print(Token.objects.get_or_create(user=u)[0].key)"
    )
    return manage(env, "shell", "-c", script).strip().splitlines()[-1]


def workload_lines(env: dict, rng: random.Random) -> dict[str, list[str]]:
    script = (
        "import json;from catalog.models import Product;"
        "from users.models import Profile;"
        "print(json.dumps({'p':list(Product.objects.filter(is_active=True)"
        ".order_by('id').values_list('id',flat=True)),"
        "'u':list(Profile.objects.filter(is_public=True).order_by('id')"
        ".values_list('user__username',flat=True))}))"
    )
    data = json.loads(manage(env, "shell", "-c", script).strip().splitlines()[-1])
    products, users = data["p"], data["u"]
    rng.shuffle(products)  # popularity independent of id
    rng.shuffle(users)

    def zipf(items: list, count: int, s: float = 1.1) -> list:
        weights = [1 / (k**s) for k in range(1, len(items) + 1)]
        return rng.choices(items, weights=weights, k=count)

    n = 20_000
    w1 = [f"GET /api/products/{pk}/" for pk in zipf(products, n)]
    w2 = [
        f"GET /api/products/?page={page}&ordering={order}"
        for page, order in zip(
            zipf(list(range(1, 51)), n),
            rng.choices(["id", "-price", "name"], k=n),
            strict=True,
        )
    ]
    w3 = [f"GET /api/profiles/{name}/" for name in zipf(users, n)]
    w4 = [
        line if rng.random() >= 0.02 else
        f'PATCH {line.split()[1]} {{"price": "{rng.randint(100, 99999) / 100:.2f}"}}'
        for line in w1
    ]  # fmt: skip
    # W6: W2's list pages with 2% single-product PATCHes: every write makes
    # every page stale; the ORM tier keeps the next misses cheap (issue 14).
    w6 = [
        line if rng.random() >= 0.02 else
        f'PATCH /api/products/{zipf(products, 1)[0]}/ '
        f'{{"stock": {rng.randint(0, 500)}}}'
        for line in w2
    ]  # fmt: skip
    return {"W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": list(w1), "W6": w6}


def start_server(
    env: dict,
    mode: str,
    *,
    port: int | None = None,
    cwd: Path = ROOT,
    config: str = "project/gunicorn_conf.py",
) -> subprocess.Popen:
    """Start gunicorn for mode (from the tree at cwd, with config) and wait for
    it to answer."""
    port = port or PORTS[mode]
    server_env = {
        **env,
        "PORT": str(port),
        "CACHE_ENABLED": "1" if mode == "cached" else "0",
        "PROMETHEUS_MULTIPROC_DIR": str(ROOT / "var" / f"prometheus-{port}"),
    }
    app = "project.wsgi:application"
    if mode == "django-constant":
        server_env["DJANGO_SETTINGS_MODULE"] = "bench.plain_django"
        app = "bench.plain_django:application"
    proc = subprocess.Popen(
        [str(Path(PYTHON).parent / "gunicorn"), app,
         "-c", config, *GUNICORN_ARGS],
        cwd=cwd, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            health = "/bench/constant/" if mode == "django-constant" else "/api/health/"
            if httpx.get(f"http://127.0.0.1:{port}{health}").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"the {mode} server did not start on port {port}")


def run_wrk(
    url: str, paths: Path, seconds: int, token: str, auth_all: bool, skip: int = 0
) -> dict:
    """Replay paths for seconds; each of wrk's threads starts skip lines further
    on than it starts by default (where a run of skip requests per thread left off)."""
    env = {**os.environ, "BENCH_PATHS": str(paths), "BENCH_TOKEN": token,
           "BENCH_AUTH_ALL": "1" if auth_all else "0",
           "BENCH_SKIP": str(skip)}  # fmt: skip
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-s",
         str(ROOT / "bench" / "paths.lua"), url],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def latency(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        value, unit = float(found.group(1)), found.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
    }


# The endpoint every GET of a workload reads (not its items': a list page
# assembled from detail entries counts hits of those too).
ENDPOINT_OF = {"W1": "api:product-detail", "W2": "api:product-list",
               "W3": "api:profile-detail", "W4": "api:product-detail",
               "W5": "api:product-detail", "W6": "api:product-list"}  # fmt: skip


def response_hits(env: dict, workload: str) -> int:
    """Return the hits of workload's endpoint so far, all processes
    (cache_stats): the difference across a run counts the run's hits."""
    stats = json.loads(manage(env, "cache_stats", "--json"))
    return stats["groups"].get(ENDPOINT_OF[workload], {}).get("hits", 0)


def costs(env: dict, mode: str, paths: Path, token: str, auth_all: bool) -> dict:
    if mode in ("ceiling", "django-constant", "cold"):
        return {"sql_per_request": 0.0, "redis_round_trips_per_request": 0.0,
                "microseconds_per_request": 0.0}  # fmt: skip
    args = [PYTHON, "-m", "bench.costs", str(paths), "--token", token]
    if auth_all:
        args.append("--auth-all")
    mode_env = {**env, "CACHE_ENABLED": "1" if mode == "cached" else "0"}
    out = subprocess.run(args, cwd=ROOT, env=mode_env, capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def prime(port: int, lines: list[str], token: str, auth_all: bool) -> None:
    """GET every distinct path of a workload once (not counted): the cached
    mode is measured in its steady state, not paying for the misses the previous
    workload's writes caused (W4's PATCHes make every list page of W2 stale)."""
    headers = {"Authorization": f"Token {token}"} if auth_all else {}
    paths = {line.split()[1] for line in lines if line.startswith("GET ")}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
        for path in sorted(paths):
            http.get(path)


def average_body(port: int, lines: list[str], token: str, auth_all: bool) -> int:
    sizes = []
    headers = {"Authorization": f"Token {token}"} if auth_all else {}
    for line in lines[:50]:
        method, path = line.split()[:2]
        if method == "GET":
            sizes.append(
                len(
                    httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers).content
                )
            )
    return round(statistics.mean(sizes))


def redis_bytes_per_detail(env: dict) -> tuple[int, int]:
    script = (
        "from caching.store import keys, client;from catalog.models import Product;"
        "from django.test import Client;"
        "p=Product.objects.filter(is_active=True).order_by('id').first();"
        "Client(HTTP_HOST='127.0.0.1').get(f'/api/products/{p.pk}/');"
        "k=keys.response_key(f'/api/products/{p.pk}/','public');"
        "r=client.connection();raw=r.get(k) or b'';"
        "print(r.memory_usage(k) or 0, len(raw.split(b'\\n',3)[-1]))"
    )
    out = manage(env, "shell", "-c", script).strip().splitlines()[-1].split()
    return int(out[0]), int(out[1])


def main() -> int:
    if not shutil.which("wrk"):
        log("wrk is not installed: `apt-get install wrk` (Debian package), then again.")
        return 2
    seconds = int(os.environ.get("BENCH_SECONDS", "8"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    env = base_env()
    rng = random.Random(11)
    log(f"bench: database {env['DATABASE_URL']}, redis {env['REDIS_URL']}")
    token = setup_data(env)
    workloads = workload_lines(env, rng)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    files = {}
    for name, lines in workloads.items():
        files[name] = workdir / f"{name}.txt"
        files[name].write_text("\n".join(lines) + "\n")
    only = os.environ.get("BENCH_WORKLOADS")
    if only:
        workloads = {name: workloads[name] for name in only.split(",")}
    modes = tuple(os.environ.get("BENCH_MODES", ",".join(MODES)).split(","))
    auth = {name: name == "W5" for name in workloads}

    needed = {SERVER_OF.get(mode, mode) for mode in modes} | {"cached"}
    servers = {mode: start_server(env, mode) for mode in PORTS if mode in needed}
    results: dict = {
        name: {m: [] for m in modes if m != "cold" or name in COLD_WORKLOADS}
        for name in workloads
    }
    try:
        log("bench: warming the cache (cache_warm)")
        manage({**env, "CACHE_ENABLED": "1"}, "cache_warm")
        sizes = {
            name: average_body(PORTS["cached"], lines, token, auth[name])
            for name, lines in workloads.items()
        }
        ceiling_files = {}
        for name, size in sizes.items():
            ceiling_files[name] = workdir / f"{name}-ceiling.txt"
            ceiling_files[name].write_text(f"GET /bench/constant/?size={size}\n")
        for round_no in range(1, rounds + 1):
            for name in workloads:
                for mode in results[name]:
                    port = PORTS[SERVER_OF.get(mode, mode)]
                    constant = mode in ("ceiling", "django-constant")
                    paths = ceiling_files[name] if constant else files[name]
                    url = f"http://127.0.0.1:{port}"
                    length = seconds
                    if mode == "cached":
                        prime(port, workloads[name], token, auth[name])
                    if mode == "cold":
                        manage({**env, "CACHE_ENABLED": "1"}, "cache_clear", "--all")
                        warm_up, length = COLD_WARMUP, COLD_SECONDS
                    else:
                        warm_up = 2
                    warmed = run_wrk(url, paths, warm_up, token, auth[name])
                    # cold: the measured run goes on where the warm-up left
                    # off, not over the paths it has just filled
                    skip = warmed["requests"] // 2 if mode == "cold" else 0
                    hits = response_hits(env, name) if mode in HIT_MODES else 0
                    result = run_wrk(url, paths, length, token, auth[name], skip)
                    if mode in HIT_MODES:  # (the server answers a few more than
                        # wrk counts: those in flight when it stops)
                        hits = response_hits(env, name) - hits
                        share = 1 - hits / max(result["requests"], 1)
                        result["not_hit"] = max(share, 0.0)
                    results[name][mode].append(result)
                    rps = result["rps"]
                    log(f"round {round_no} {name} {mode:<8} {rps:>8.0f} req/s "
                        f"p50 {result['p50']:.2f} ms p99 {result['p99']:.2f} ms "
                        f"non-2xx {result['non2xx']}")  # fmt: skip
        per_request = {
            name: {
                mode: costs(env, mode, files[name], token, auth[name])
                for mode in results[name]
            }
            for name in workloads
        }
        memory, body = redis_bytes_per_detail(env)
    finally:
        for proc in servers.values():
            proc.terminate()
            proc.wait(timeout=30)
    publish(report(results, per_request, sizes, memory, body, seconds, rounds))
    return 0


def publish(table: str, suffix: str = "") -> None:
    """Print a results table and keep it in bench/results/, named by the time."""
    print(table)
    name = f"{datetime.now(UTC):%Y-%m-%d-%H%M}{suffix}.md"
    out = ROOT / "bench" / "results" / name
    out.write_text(table)
    log(f"bench: written to {out.relative_to(ROOT)}")


def per_round(runs: list[dict], others: list[dict]) -> str:
    """Ratios of req/s round by round, and their median: steadier than the
    ratio of medians when the machine drifts between rounds."""
    ratios = [a["rps"] / b["rps"] for a, b in zip(runs, others, strict=True)]
    listed = ", ".join(f"{r:.2f}" for r in ratios)
    return f"{listed}; median {statistics.median(ratios):.2f}x" if ratios else ""


def not_hit(runs: list[dict]) -> str:
    shares = [r["not_hit"] for r in runs if "not_hit" in r]
    return f"{statistics.median(shares):.1%}" if shares else ""


def report(results, per_request, sizes, memory, body, seconds, rounds) -> str:
    def med(name, mode, field):
        return statistics.median(r[field] for r in results[name][mode])

    def ratio(name, mode, other):
        if mode not in ("cached", "cold") or other not in results[name]:
            return ""
        return f"{med(name, mode, 'rps') / med(name, other, 'rps'):.2f}x"

    logged = os.environ.get("BENCH_ACCESS_LOG")
    access_log = f"to {logged!r}" if logged else "off"
    rows = [
        f"# make bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"{os.cpu_count()} cores; gunicorn {WORKERS} workers per mode "
        f"({' '.join(GUNICORN_ARGS) or 'sync'}); "
        "wrk -t2 -c16, "
        f"CACHE_TTL={os.environ.get('CACHE_TTL', '3600')}, {seconds} s per run, "
        f"{rounds} rounds round-robin over workloads and modes; medians; access log "
        f"{access_log} in every mode. "
        f"cold: cache cleared, {COLD_WARMUP} s warm-up, {COLD_SECONDS} s measured "
        "going on from the warm-up's last request, no priming.",
        "",
        "not hit: the share of the run's requests no response hit answered (cache "
        "misses and writes, from cache_stats, to 0.1%): while it is above 1%, "
        "p99 is one of them.",
        "",
        "| workload | mode | req/s | p50 ms | p99 ms | p99/p50 | non-2xx | not hit "
        "| SQL/req | Redis RT/req | µs/req in-process | /uncached | /ceiling "
        "| /django-constant |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in results:
        for mode in results[name]:
            cost = per_request[name].get(mode) or {}
            p50, p99 = med(name, mode, "p50"), med(name, mode, "p99")
            rows.append(
                f"| {name} | {mode} | {med(name, mode, 'rps'):.0f} | "
                f"{p50:.2f} | {p99:.2f} | {p99 / p50:.2f} | "
                f"{sum(r['non2xx'] for r in results[name][mode])} | "
                f"{not_hit(results[name][mode])} | "
                f"{cost.get('sql_per_request', 0):.2f} | "
                f"{cost.get('redis_round_trips_per_request', 0):.2f} | "
                f"{cost.get('microseconds_per_request', 0):.0f} | "
                f"{ratio(name, mode, 'uncached')} | {ratio(name, mode, 'ceiling')} | "
                f"{ratio(name, mode, 'django-constant')} |"
            )
    rows.append("")
    for a, b in (("W4", "W1"), ("W6", "W2")):
        if "cached" in results.get(a, {}) and "cached" in results.get(b, {}):
            share = med(a, "cached", "rps") / med(b, "cached", "rps")
            each = per_round(results[a]["cached"], results[b]["cached"])
            rows.append(f"{a} cached / {b} cached: {share:.2f}x (per round: {each})")
    for name, modes in results.items():
        if "cached" in modes and "django-constant" in modes:
            each = per_round(modes["cached"], modes["django-constant"])
            rows.append(f"{name} cached / django-constant, per round: {each}")
    rows += [
        f"Average body bytes per workload: {sizes}",
        f"Redis bytes per cached product detail: {memory} for a {body}-byte JSON body "
        f"({memory / max(body, 1):.2f}x)",
        "",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
