"""The ceiling of `make bench`: a constant body through the same Django stack."""

from __future__ import annotations

from functools import cache

from django.http import HttpRequest, HttpResponse


@cache
def _body(size: int) -> bytes:
    return b'{"x":"' + b"x" * max(0, size - 8) + b'"}'


def constant(request: HttpRequest) -> HttpResponse:
    """Return a constant JSON body of ?size= bytes (only with BENCH_ENDPOINTS=1)."""
    size = min(int(request.GET.get("size", "512") or 512), 1_000_000)
    return HttpResponse(_body(size), content_type="application/json")
