"""The admin site, with the cache page added to it."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path


class ShopAdminSite(admin.AdminSite):
    site_header = "Shop administration"
    site_title = "Shop admin"

    def get_urls(self):
        from caching.admin import cache_page

        return [
            path("cache/", self.admin_view(cache_page), name="cache"),
        ] + super().get_urls()
