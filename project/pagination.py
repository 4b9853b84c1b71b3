"""Page-number pagination that rejects bad `page`/`page_size` values loudly."""

from __future__ import annotations

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
        if not raw.isdigit() and raw not in self.last_page_strings:
            raise NotFound({"page": [f"'{raw}' is not a page number."]})
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise NotFound({"page": [f"Page '{raw}' does not exist."]}) from None
