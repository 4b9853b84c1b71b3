"""
Page-number pagination that rejects bad `page`/`page_size` values loudly, and
builds its links from PUBLIC_URL and the query the view answers.

DRF builds `next`/`previous` from the Host header and the raw query string, so
every Host port and every spelling of a query would be a different body (and a
different cache entry). Here a link is PUBLIC_URL + path + the canonical query
(caching.http.params puts it in that form before the view runs), in sorted order.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            raise ValidationError(
                {"page_size": [f"'{raw}' is not an integer."]}
            ) from None
        if size < 1:
            raise ValidationError({"page_size": ["Must be 1 or more."]})
        # DRF convention: a size above the cap is capped, not refused.
        return min(size, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param, "1")
        if not (raw.isascii() and raw.isdigit()) and raw not in self.last_page_strings:
            raise NotFound({"page": [f"'{raw}' is not a page number."]})
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise NotFound({"page": [f"Page '{raw}' does not exist."]}) from None

    def _link(self, page_number: int) -> str:
        query = {
            name: value
            for name, value in self.request.query_params.items()
            if name != self.page_query_param
        }
        if page_number != 1:
            query[self.page_query_param] = str(page_number)
        encoded = urlencode(sorted(query.items()))
        base = settings.PUBLIC_URL.rstrip("/") + self.request.path
        return f"{base}?{encoded}" if encoded else base

    def get_next_link(self) -> str | None:
        if not self.page.has_next():
            return None
        return self._link(self.page.next_page_number())

    def get_previous_link(self) -> str | None:
        if not self.page.has_previous():
            return None
        return self._link(self.page.previous_page_number())
