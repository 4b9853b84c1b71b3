"""
Conditional GETs: ``If-None-Match`` with the current ETag gets a 304.

Django's ConditionalGetMiddleware, placed above the hit path so a 304 costs
what a hit costs (one Redis round trip, the ETag stored in the entry, no
hashing). The only change: the 304 keeps ``X-Cache``, which says what the
cache did for it (CONTRACT 4.1 asks it of every cacheable GET).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.middleware.http import ConditionalGetMiddleware


class ConditionalGet(ConditionalGetMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        answer = super().process_response(request, response)
        if answer is not response and response.has_header("X-Cache"):
            answer["X-Cache"] = response["X-Cache"]
        return answer
