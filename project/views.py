"""Project-wide views: health, and JSON 404s under /api/."""

from __future__ import annotations

import os

from django.db import connection
from django.db.utils import DatabaseError
from django.http import HttpResponse
from django.views import defaults
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from caching import client as cache_client
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


def metrics(request):
    """Prometheus metrics: requests (django-prometheus) and the cache."""
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    from caching.metrics import RedisStatsCollector

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
