"""
Conditional requests: ``If-None-Match`` with the current ETag gets a 304.

Django's ConditionalGetMiddleware, placed above the hit path so a 304 costs
what a hit costs (one Redis round trip, the ETag stored in the entry, no
hashing). Two changes:

- the 304 keeps ``X-Cache``, which says what the cache did for it (CONTRACT
  4.1 asks it of every cacheable GET);
- a cacheable answer's ``HEAD`` is treated as its ``GET``: the view renders the
  same body (the server leaves it out), so it carries the same ETag and gets
  the same 304 (RFC 9110 13.1.2). Django skips every HEAD, since a view may
  answer one with no body; a cacheable view never does, and a HEAD hit comes
  from the entry its GET filled, ETag included (CONTRACT 4.11, 4.14).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.http import ConditionalGetMiddleware


class ConditionalGet(ConditionalGetMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if (
            request.method == "HEAD"
            and response.has_header("X-Cache")
            and isinstance(response, HttpResponse)  # not streamed: it has a body
        ):
            request.method = "GET"  # Django's middleware as for the GET
            try:
                answer = super().process_response(request, response)
            finally:
                request.method = "HEAD"
        else:
            answer = super().process_response(request, response)
        if answer is not response and response.has_header("X-Cache"):
            answer["X-Cache"] = response["X-Cache"]
        return answer
