"""The admin site, with the cache page added to it."""

from __future__ import annotations

import math

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path

from project.throttling import LoginFailures


class ShopAdminSite(admin.AdminSite):
    site_header = "Shop administration"
    site_title = "Shop admin"

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """Django's login page, with failed attempts limited as the API's are."""
        if request.method != "POST":
            return super().login(request, extra_context)
        failures = LoginFailures()
        if not failures.allow_request(request):
            wait = max(1, math.ceil(failures.wait()))
            response = HttpResponse(
                "Too many failed logins; try again later.",
                status=429,
                content_type="text/plain",
            )
            response["Retry-After"] = str(wait)
            return response
        response = super().login(request, extra_context)
        if response.status_code == 200:  # the form again: the login failed
            failures.failed(request)
        return response

    def get_urls(self):
        from caching.ops.admin import cache_page

        return [
            path("cache/", self.admin_view(cache_page), name="cache"),
        ] + super().get_urls()
