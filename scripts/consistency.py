"""
Readers and writers in separate processes on one product, and the stale-read check.

Writers commit strictly increasing prices (``UPDATE ... SET price = price + 1``
under the row lock, so version order is commit order) in turn through
``QuerySet.update()``, the write-through manager and SQL sent by hand through
Django's cursor; optionally each write also sets a user's email to the version
with ``User.objects.update()`` (auth's plain manager) and creates and deletes a
row (churn, for compaction). Readers GET the product's detail, two list pages
(ordered by price, which every write changes, and by name, which none does:
its misses are assembled at the WSGI level) and, with a user,
``/api/profiles/me/``, through the project's WSGI application as gunicorn
calls it (the WSGI hit path, then the whole Django stack). Every event
is logged with ``time.monotonic_ns()`` (one clock for all processes on the
machine). A read is stale when a write with a higher version was acknowledged
before the read began.

Used by tests/integration/test_consistency.py (short) and scripts/soak.py (long).
"""

from __future__ import annotations

import bisect
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --- the workers (run as: python -m scripts.consistency ROLE ...) -------------


def _setup(delay_ms: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    if delay_ms:
        from caching import store

        # Widen the race: pause between the database read and the fill.
        store.before_fill.append(
            lambda key: time.sleep(random.uniform(0, delay_ms) / 1000)
        )


def reader(
    product: int, out: Path, stop: Path, delay_ms: int, user: int | None
) -> None:
    _setup(delay_ms)
    import httpx
    from rest_framework.authtoken.models import Token

    from catalog.models import Product
    from project.wsgi import application  # as gunicorn calls it: the WSGI hit path

    client = httpx.Client(
        transport=httpx.WSGITransport(app=application), base_url="http://127.0.0.1"
    )
    detail = f"/api/products/{product}/"
    category = Product.objects.uncached().get(pk=product).category.slug
    listings = [  # by price, which every write changes; by name, which none does
        f"/api/products/?category={category}&ordering=-price&page_size=5",
        f"/api/products/?category={category}&ordering=name&page_size=5",
    ]
    urls = [detail, *listings]
    headers = {}
    if user is not None:  # its email carries the version too (User.update())
        urls.append("/api/profiles/me/")
        token = Token.objects.get_or_create(user_id=user)[0].key
        headers["Authorization"] = f"Token {token}"
    parent = os.getppid()
    with out.open("w") as log:
        n = 0
        while not stop.exists() and os.getppid() == parent:  # stop if orphaned
            url = urls[n % len(urls)]
            started = time.monotonic_ns()
            response = client.get(url, headers=headers)
            ended = time.monotonic_ns()
            body = response.json()
            if url in listings:
                body = next(row for row in body["results"] if row["id"] == product)
            if url != "/api/profiles/me/":
                version = int(Decimal(body["price"]))
            else:
                version = int(body["email"].split("@")[0][1:])
            status = response.headers["X-Cache"]
            log.write(f"r {started} {ended} {version} {status}\n")
            n += 1


def _bump(product: int, way: int) -> int:
    """Raise the product's price by one, one of three ways; return the price."""
    from django.db import connection
    from django.db.models import F

    from catalog.models import Product

    if way == 2:  # SQL sent by hand through Django's cursor
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Product._meta.db_table} SET price = price + 1 WHERE id = %s",
                [product],
            )
    else:
        Product.objects.filter(pk=product).update(price=F("price") + 1)
    current = Product.objects.uncached().get(pk=product)
    if way == 1:
        Product.objects.save_through(current)
    return int(current.price)


def writer(
    product: int,
    out: Path,
    writes: int,
    pause_ms: float,
    seconds: float,
    user: int | None,
    churn: bool,
) -> None:
    _setup(0)
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from catalog.models import Product

    deadline = time.monotonic() + seconds if seconds else float("inf")
    users = get_user_model().objects
    with out.open("w") as log:
        for i in range(writes):
            if time.monotonic() > deadline:
                break
            started = time.monotonic_ns()
            with transaction.atomic():
                version = _bump(product, i % 3)
                if user is not None:  # the plain manager of auth.User
                    users.filter(pk=user).update(email=f"v{version}@example.com")
            acked = time.monotonic_ns()
            log.write(f"w {started} {acked} {version}\n")
            if churn:  # rows created and deleted: stamps that compaction removes
                template = Product.objects.uncached().get(pk=product)
                Product.objects.create(
                    sku=f"CHURN-{os.getpid()}-{i}", name="Churn", slug="churn",
                    price=1, category_id=template.category_id, is_active=False,
                ).delete()  # fmt: skip
            time.sleep(random.uniform(0, pause_ms) / 1000)


# --- the run and its analysis -------------------------------------------------


@dataclass
class Report:
    reads: int = 0
    writes: int = 0
    stale: list[tuple[int, int, int]] = field(default_factory=list)
    seconds: float = 0.0
    hits: int = 0
    final_version: int = 0
    settled_reads: int = 0
    settled_wrong: int = 0
    fresh_latency_ms: list[float] = field(default_factory=list)

    @property
    def reads_per_second(self) -> float:
        return self.reads / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        data = sorted(self.fresh_latency_ms)
        if not data:
            return 0.0
        return data[min(len(data) - 1, int(q * len(data)))]

    def summary(self) -> str:
        return (
            f"reads={self.reads} ({self.reads_per_second:.0f}/s, "
            f"{self.hits / max(self.reads, 1):.0%} hits) writes={self.writes} "
            f"stale={len(self.stale)} settled_wrong={self.settled_wrong} "
            f"commit-to-fresh p50={self.percentile(0.5):.1f}ms "
            f"p99={self.percentile(0.99):.1f}ms max={self.percentile(1.0):.1f}ms"
        )


def analyze(reads: list[tuple], writes: list[tuple]) -> Report:
    """Find stale reads: a read older than a write acknowledged before it began."""
    report = Report(reads=len(reads), writes=len(writes))
    writes = sorted(writes, key=lambda w: w[1])  # by ack time
    acks = [w[1] for w in writes]
    best_so_far, best = [], 0
    for _, _, version in writes:
        best = max(best, version)
        best_so_far.append(best)
    for started, _ended, version, status in reads:
        report.hits += status == "HIT"
        i = bisect.bisect_left(acks, started) - 1
        if i >= 0 and version < best_so_far[i]:
            report.stale.append((started, version, best_so_far[i]))
    if writes:
        report.final_version = best_so_far[-1]
        last_ack = acks[-1]
        settled = [r for r in reads if r[0] > last_ack]
        report.settled_reads = len(settled)
        report.settled_wrong = sum(r[2] != report.final_version for r in settled)
    # Commit-to-fresh: from a write's ack to the end of the first read showing it.
    by_end = sorted(reads, key=lambda r: r[1])
    ends = [r[1] for r in by_end]
    for _, acked, version in writes:
        j = bisect.bisect_left(ends, acked)
        while j < len(by_end) and by_end[j][2] < version:
            j += 1
        if j < len(by_end):
            report.fresh_latency_ms.append((by_end[j][1] - acked) / 1e6)
    return report


class _Compactor(threading.Thread):
    """Compact the stamp hashes again and again (this process is Django's)."""

    def __init__(self, horizon: float) -> None:
        super().__init__(daemon=True)
        self.horizon = horizon
        self.runs = 0
        self._done = threading.Event()
        self.start()

    def run(self) -> None:
        from django.db import connections

        from caching.store import compaction

        try:
            while not self._done.wait(self.horizon / 10):
                compaction.compact(horizon=self.horizon)
                self.runs += 1
        finally:  # its new Redis connections checked the outbox: a DB connection
            connections.close_all()

    def stop(self) -> None:
        self._done.set()
        self.join()


def database_url() -> str:
    """Return a URL of the database the current Django connection uses."""
    from django.db import connection

    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    user = conf.get("USER") or ""
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = conf.get("HOST") or "127.0.0.1"
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{conf['NAME']}"


def run(
    *,
    product: int,
    readers: int,
    writers: int,
    writes: int,
    seconds: float = 0,
    delay_ms: int = 0,
    pause_ms: float = 5,
    settle_s: float = 0.5,
    naive: bool = False,
    user: int | None = None,
    churn: bool = False,
    db_url: str,
    redis_url: str,
    key_prefix: str,
    env: dict[str, str] | None = None,
    compact_horizon: float = 0,
) -> Report:
    """Run the readers and writers as processes and analyze their logs.

    ``compact_horizon`` > 0: this process also compacts the stamp hashes with
    that horizon, ten times per horizon, while the writers run.
    """
    workdir = Path(tempfile.mkdtemp(prefix="consistency-"))
    stop = workdir / "stop"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": key_prefix,
        "CACHE_NAIVE_FILL": "1" if naive else "0",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        **(env or {}),
    }

    def spawn(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "scripts.consistency", *args], cwd=ROOT, env=env
        )

    started = time.monotonic()
    reader_procs = [
        spawn(
            "reader",
            str(product),
            str(workdir / f"r{i}.log"),
            str(stop),
            str(delay_ms),
            str(user or ""),
        )
        for i in range(readers)
    ]
    time.sleep(0.5)  # let readers start (and warm the cache) before writes begin
    writer_procs = [
        spawn(
            "writer",
            str(product),
            str(workdir / f"w{i}.log"),
            str(writes),
            str(pause_ms),
            str(seconds),
            str(user or ""),
            "1" if churn else "",
        )
        for i in range(writers)
    ]
    compactor = _Compactor(compact_horizon) if compact_horizon else None
    try:
        for proc in writer_procs:
            if proc.wait() != 0:
                raise RuntimeError("a writer failed")
        time.sleep(settle_s)
    finally:
        if compactor is not None:
            compactor.stop()
        stop.touch()
        for proc in reader_procs + writer_procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    if any(proc.returncode for proc in reader_procs):
        raise RuntimeError("a reader failed")
    reads, writes_log = [], []
    for path in workdir.glob("*.log"):
        for line in path.read_text().splitlines():
            kind, *fields = line.split()
            if kind == "r":
                reads.append(
                    (int(fields[0]), int(fields[1]), int(fields[2]), fields[3])
                )
            else:
                writes_log.append((int(fields[0]), int(fields[1]), int(fields[2])))
    report = analyze(reads, writes_log)
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str]) -> None:
    role, product, out, *rest = argv
    if role == "reader":
        user = int(rest[2]) if rest[2] else None
        reader(int(product), Path(out), Path(rest[0]), int(rest[1]), user)
    elif role == "writer":
        user = int(rest[3]) if rest[3] else None
        writer(
            int(product),
            Path(out),
            int(rest[0]),
            float(rest[1]),
            float(rest[2]),
            user,
            bool(rest[4]),
        )
    else:
        raise SystemExit(f"unknown role {role}")


if __name__ == "__main__":
    main(sys.argv[1:])
