"""
The access log of `make run` (project/accesslog.py): gunicorn's default line,
Apache's combined format, written by a real gunicorn, with hostile values
escaped so that no client can forge a line.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.servers import AppServer, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]

COMBINED = re.compile(
    r"^(?P<host>\S+) - (?P<user>\S+) "
    r"\[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<size>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)"$'
)


@pytest.fixture
def served(tmp_path):
    log = tmp_path / "access.log"
    server = AppServer(tmp_path, ACCESS_LOG=str(log))
    yield server.url, log
    server.stop()


def lines_of(log, count):
    wait_until(lambda: len(log.read_text().splitlines()) >= count, 10, "log lines")
    return log.read_text().splitlines()


def test_each_request_is_one_combined_log_line(served, product):
    base, log = served
    skip = len(lines_of(log, 1))  # the health checks of the start
    url = f"/api/products/{product.pk}/?fields=x"
    first = httpx.get(base + url, headers={"User-Agent": "probe/1.0"})
    second = httpx.get(base + url, headers={"Referer": "https://example.org/a"})
    assert httpx.get(f"{base}/api/products/999999/").status_code == 404
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    lines = lines_of(log, skip + 3)[skip:]
    parsed = [COMBINED.match(line) for line in lines]
    assert all(parsed), lines
    one, two, three = (match.groupdict() for match in parsed)
    assert one["request"] == f"GET {url} HTTP/1.1"
    assert (one["status"], one["size"], one["agent"]) == (
        "200",
        str(len(first.content)),
        "probe/1.0",
    )
    assert (two["status"], two["referer"]) == ("200", "https://example.org/a")
    assert (three["status"], three["host"], three["user"]) == ("404", "127.0.0.1", "-")
    logged = time.strptime(one["time"], "%d/%b/%Y:%H:%M:%S %z")
    assert abs(time.mktime(logged) - time.mktime(time.localtime())) < 120


def test_a_client_cannot_forge_a_line(served, product):
    base, log = served
    skip = len(lines_of(log, 1))
    forged = 'x" 200 1 "-" "fake'
    httpx.get(f"{base}/api/products/{product.pk}/", headers={"User-Agent": forged})
    line = lines_of(log, skip + 1)[skip]
    match = COMBINED.match(line)
    assert match is not None, line
    assert match["agent"] == 'x\\" 200 1 \\"-\\" \\"fake'
    assert match["status"] == "200"
