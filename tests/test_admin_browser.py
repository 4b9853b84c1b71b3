"""
The admin in a real browser: Playwright driving Debian's Chromium against a live
server. Log in, change a product's price, and see the API (through the cache)
answer the new price; open the Cache page and clear a model from it.
"""

from __future__ import annotations

import os
import shutil

import httpx
import pytest
from django.db import connections

from tests.factories import ProductFactory

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    # Never skipped in CI: .ci/run installs Chromium, and a missing one must fail.
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI"),
        reason="no Chromium found (apt-get install chromium)",
    ),
]


@pytest.fixture
def browser_page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # made by the test itself are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        yield page
        browser.close()
        # The test's own queries ran in Playwright's context: their connection
        # would stay open and keep the test database from being dropped.
        connections.close_all()


def test_admin_edit_is_seen_by_the_api_and_cache_page_works(live_server, browser_page):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("boss", "boss@example.com", "s3cret-pw")
    product = ProductFactory(name="Lamp", price="10.00")
    api = f"{live_server.url}/api/products/{product.pk}/"
    with httpx.Client() as http:
        assert http.get(api).json()["price"] == "10.00"
        assert http.get(api).headers["X-Cache"] == "HIT"

        page = browser_page
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "boss")
        page.fill("#id_password", "s3cret-pw")
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")

        page.goto(f"{live_server.url}/admin/catalog/product/{product.pk}/change/")
        page.fill("#id_price", "55.00")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")

        response = http.get(api)
        assert response.json()["price"] == "55.00"

        page.goto(f"{live_server.url}/admin/cache/")
        assert page.inner_text("#cache-status") == "available"
        assert "api:product-detail" in page.inner_text("#cache-groups")
        page.select_option("#clear-model", "catalog.Product")
        page.click("#clear-cache")
        page.wait_for_selector(".messagelist .success")
        assert "Cleared catalog.Product" in page.inner_text(".messagelist")
        assert http.get(api).headers["X-Cache"] == "MISS"
