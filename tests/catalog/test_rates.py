"""
Price conversion with upstream rates (CONTRACT 4.8), against a real local HTTP
server that serves ECB-format XML, counts requests and can be made to fail.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

ECB_XML = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
    xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
  <gesmes:subject>Reference rates</gesmes:subject>
  <Cube><Cube time="{date}">
    <Cube currency="USD" rate="{usd}"/><Cube currency="JPY" rate="160.5"/>
  </Cube></Cube>
</gesmes:Envelope>"""


class Upstream:
    def __init__(self) -> None:
        self.requests = 0
        self.failing = False
        self.delay = 0.0
        self.date, self.usd = "2026-11-25", "1.1000"
        self.body: bytes | None = None  # served instead of ECB_XML when set
        self.trickle = 0.0  # seconds between chunks of 64 bytes, when set
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                upstream.requests += 1
                time.sleep(upstream.delay)
                if upstream.failing:
                    self.send_error(502)
                    return
                body = (
                    upstream.body
                    or ECB_XML.format(date=upstream.date, usd=upstream.usd).encode()
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                step = 64 if upstream.trickle else len(body)
                for start in range(0, len(body), step):
                    self.wfile.write(body[start : start + step])
                    self.wfile.flush()
                    time.sleep(upstream.trickle)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/eurofxref-daily.xml"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def upstream(settings):
    server = Upstream()
    settings.RATES_URL = server.url
    settings.RATES_TTL = 3600
    yield server
    server.server.shutdown()


def price(client, product, currency="USD"):
    return client.get(f"/api/products/{product.pk}/price/", {"currency": currency})


def test_converts_with_upstream_rates(api_client, upstream, product):
    response = price(api_client, product)
    assert response.status_code == 200
    assert response.json() == {
        "product": product.pk,
        "currency": "USD",
        "price": "13.75",
        "rate": "1.1000",
        "rates_date": "2026-11-25",
    }
    assert price(api_client, product, "eur").json()["price"] == "12.50"


def test_rates_are_fetched_once_per_ttl(api_client, upstream, product, settings):
    for currency in ("USD", "EUR", "USD", "usd"):
        assert price(api_client, product, currency).status_code == 200
    assert upstream.requests == 1
    settings.RATES_TTL = 0  # everything fetched so far is now too old
    upstream.usd = "1.2000"
    upstream.date = "2026-11-26"
    assert price(api_client, product, "JPY").status_code == 200
    assert upstream.requests == 2
    # The USD response cached with the old rates shows the new ones: it depends on them.
    body = price(api_client, product, "USD").json()
    assert body["rate"] == "1.2000"
    assert body["rates_date"] == "2026-11-26"


def test_failing_upstream_serves_the_cached_rates(
    api_client, upstream, product, settings
):
    assert price(api_client, product).json()["rates_date"] == "2026-11-25"
    settings.RATES_TTL = 0
    upstream.failing = True
    response = price(api_client, product, "JPY")
    assert response.status_code == 200
    assert response.json()["rates_date"] == "2026-11-25"
    assert upstream.requests >= 2


def test_no_rates_at_all_is_503_json(api_client, upstream, product):
    upstream.failing = True
    response = price(api_client, product)
    assert response.status_code == 503
    assert "detail" in response.json()


def test_unreachable_upstream_is_503_json(api_client, product, settings):
    settings.RATES_URL = "http://127.0.0.1:9/nothing-listens-here"
    response = price(api_client, product)
    assert response.status_code == 503
    assert "detail" in response.json()


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
<!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>
<Cube><Cube time="2026-11-25"><Cube currency="USD" rate="&f;"/></Cube></Cube>"""
HOSTILE = {
    **{f"rate {rate}": {"usd": rate} for rate in
       ["NaN", "Infinity", "sNaN", "-1", "0", "-0", "1e400", "1e-400", "1E2", "1_000",
        " 1.1", "99999999999999999999999", "0.0000000000001", ""]},
    "a date that is not one": {"date": "soon"},
    "a script for a date": {"date": "<script>"},
    "a currency that is not a code": {"body": ECB_XML.replace(
        'currency="JPY"', 'currency="J\u00a5Y"').format(date="2026-11-25", usd="1.1")},
    "a currency code too long": {"body": ECB_XML.replace(
        'currency="JPY"', 'currency="JPYX"').format(date="2026-11-25", usd="1.1")},
    "a document of 2 MB": {"body": ECB_XML.replace(
        "<gesmes:subject>", "<gesmes:subject>" + "x" * 2_000_000
    ).format(date="2026-11-25", usd="1.1")},
    "entities that expand to gigabytes": {"body": BOMB},
}  # fmt: skip


def serve(upstream, what: dict) -> None:
    body = what.get("body")
    upstream.body = body.encode() if isinstance(body, str) else body
    upstream.usd = what.get("usd", upstream.usd)
    upstream.date = what.get("date", upstream.date)


@pytest.mark.parametrize("what", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_upstream_with_no_rates_yet_is_503_json(
    api_client, upstream, product, what
):
    serve(upstream, what)
    response = price(api_client, product)
    assert response.status_code == 503
    assert "detail" in response.json()


@pytest.mark.parametrize("what", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_upstream_is_a_failing_one_the_last_rates_are_served(
    api_client, upstream, product, settings, what
):
    assert price(api_client, product).json()["rate"] == "1.1000"
    settings.RATES_TTL = 0
    serve(upstream, what)
    response = price(api_client, product, "JPY")
    assert response.status_code == 200
    assert response.json()["rate"] == "160.5"
    assert response.json()["rates_date"] == "2026-11-25"
    assert upstream.requests >= 2
    assert price(api_client, product, "usd").json()["rate"] == "1.1000"


def test_an_upstream_that_trickles_is_given_up_at_the_timeout(
    api_client, upstream, product, settings
):
    """Each chunk comes within the read timeout; the document does not."""
    settings.RATES_TIMEOUT = 0.5
    upstream.trickle = 0.1  # 64 bytes at a time: the document in about 0.7 s
    started = time.monotonic()
    response = price(api_client, product)
    assert response.status_code == 503
    assert time.monotonic() - started < 2.0  # about 0.6 s; generous for CI


@pytest.mark.parametrize("currency", ["ZZZ", "US", "12$", ""])
def test_bad_currency_is_400_naming_it(api_client, upstream, product, currency):
    response = price(api_client, product, currency)
    assert response.status_code == 400
    assert "currency" in response.json()


def test_price_of_inactive_product_is_404_but_staff_see_it(
    api_client, staff_client, upstream, product
):
    product.is_active = False
    product.save()
    assert price(api_client, product).status_code == 404
    assert price(staff_client, product).status_code == 200


def test_price_response_is_cached_and_follows_the_product(
    api_client, staff_client, upstream, product
):
    # The first fetch stamps the rates, which voids the fill made with them.
    assert price(api_client, product)["X-Cache"] == "MISS"
    assert price(api_client, product)["X-Cache"] == "MISS"
    assert price(api_client, product)["X-Cache"] == "HIT"
    staff_client.patch(
        f"/api/products/{product.pk}/", {"price": "20.00"}, format="json"
    )
    assert price(api_client, product).json()["price"] == "22.00"


def test_a_burst_of_first_requests_fetches_the_upstream_once(upstream):
    """No rates cached yet: one request fetches, the others wait for it."""
    from django.db import connections

    from catalog import rates

    upstream.delay = 0.3
    results = []

    def ask() -> None:
        try:
            results.append(rates.get_rates().rates["USD"])
        finally:
            connections.close_all()  # this thread's (outbox checks)

    threads = [threading.Thread(target=ask) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert upstream.requests == 1
    assert [str(rate) for rate in results] == ["1.1000"] * 10
