"""Project-wide views: health, the schema and its docs, and JSON errors under
/api/."""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpResponse
from django.views import defaults
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from caching.store import client as cache_client
from project.exceptions import bad_request as api_bad_request
from project.exceptions import not_found as api_not_found


class HealthView(APIView):
    """Readiness: 200 while the database answers; the cache may be unavailable."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        responses=inline_serializer(
            "Health",
            {"database": serializers.CharField(), "cache": serializers.CharField()},
        )
    )
    def get(self, request):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            database = "ok"
        except DatabaseError:
            database = "unavailable"
        cache = "ok" if cache_client.ping() else "unavailable"
        status = 200 if database == "ok" else 503
        return Response({"database": database, "cache": cache}, status=status)


class JSONErrors:
    """A view whose errors are JSON (CONTRACT 7) although its renderers are not:
    DRF renders an error with the view's first renderer (YAML, HTML) when the
    request's format is unknown or its method not allowed."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.exception:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(JSONErrors, SpectacularAPIView):
    pass


class SwaggerView(JSONErrors, SpectacularSwaggerView):
    pass


class RedocView(JSONErrors, SpectacularRedocView):
    pass


def metrics_allowed(request) -> bool:
    """Return whether request may read /metrics: a bearer token when one is set,
    or an address in METRICS_ALLOW (localhost by default)."""
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and hmac.compare_digest(header.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(allowed, strict=False)
        for allowed in settings.METRICS_ALLOW
    )


def metrics(request):
    """Prometheus metrics: requests (django-prometheus) and the cache."""
    if not metrics_allowed(request):
        return HttpResponse("Forbidden.\n", status=403, content_type="text/plain")
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    from caching.ops.stats import RedisStatsCollector
    from caching.store.metrics import FAST_RESPONSES

    FAST_RESPONSES.flush()  # this process's counts of the last second

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # gunicorn: add up the workers
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Merged(REGISTRY))
    registry.register(RedisStatsCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _Merged:
    """Expose another registry's metrics inside a fresh registry."""

    def __init__(self, source) -> None:
        self.source = source

    def collect(self):
        return self.source.collect()


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    if request.path.startswith("/api/"):
        return api_bad_request(request, exception)
    return defaults.bad_request(request, exception)
