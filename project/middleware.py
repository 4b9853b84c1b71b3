"""Request guards that must run before anything reads the request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

MAX_QUERY = 16_384


class RequestGuards:
    """Answer 400 to a URL with a NUL byte (PostgreSQL refuses NUL in text, so
    any lookup with one would fail deep inside a query) and 414 to a query
    string over 16 KB, in JSON, before anything reads the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if len(query) > MAX_QUERY:
            return JsonResponse(
                {"detail": f"Query string too long (at most {MAX_QUERY} bytes)."},
                status=414,
            )
        if "\x00" in request.path_info or "%00" in query or "\x00" in query:
            return JsonResponse(
                {"detail": "NUL characters are not allowed in URLs."}, status=400
            )
        return self.get_response(request)
