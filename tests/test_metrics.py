"""Prometheus metrics at /metrics: requests, and the cache's counters."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def sample(text: str, name: str, label: str = "") -> float:
    pattern = rf"^{name}\{{[^}}]*{re.escape(label)}[^}}]*\}} ([0-9.e+]+)$"
    found = re.findall(pattern, text, re.MULTILINE)
    return sum(float(v) for v in found)


def test_metrics_expose_requests_and_cache_counters(
    client, api_client, product, settings
):
    url = f"/api/products/{product.pk}/"
    api_client.get(url)
    api_client.get(url)
    product.save()
    settings.CACHING = {**settings.CACHING, "ENABLED": False}
    api_client.get(url)
    text = client.get("/metrics").content.decode()
    assert sample(text, "cache_hits_total", 'group="api:product-detail"') == 1
    assert sample(text, "cache_misses_total", 'group="api:product-detail"') == 1
    assert sample(text, "cache_invalidations_total", 'model="catalog.product"') >= 1
    assert sample(text, "cache_bypasses_total", 'group="api:product-detail"') >= 1
    assert "cache_fill_conflicts_total" in text
    assert "cache_breaker_open" in text
    assert "cache_up 1.0" in text
    assert "django_http_requests_total_by_method_total" in text
    assert "django_http_requests_latency_seconds_by_view_method" in text
