"""
The admin's view of the cache: a staff-only page (hit ratios, keys, memory,
breaker, recent invalidations, clear one model) and a "Refresh cache" action.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from caching.ops import clear, stats, warm
from caching.store import client
from caching.store.client import CacheUnavailable


@admin.action(description="Refresh cache for selected")
def refresh_cache(modeladmin, request, queryset) -> None:
    """Refill the cached entries of the selected objects from the database."""
    try:
        stored = warm.refresh(queryset)
    except CacheUnavailable:
        modeladmin.message_user(request, "The cache is unavailable.", messages.ERROR)
        return
    modeladmin.message_user(
        request, f"Refreshed {queryset.count()} objects ({stored} cache entries)."
    )


class CachedModelAdmin(admin.ModelAdmin):
    """A ModelAdmin with the "Refresh cache for selected" action."""

    actions = [refresh_cache]


@staff_member_required
@require_http_methods(["GET", "POST"])
def cache_page(request: HttpRequest) -> HttpResponse:
    """Show cache statistics; POST clears one model's entries."""
    models = {m._meta.label: m for m in warm.cached_models()}
    if request.method == "POST":
        label = request.POST.get("model", "")
        if label not in models:
            messages.error(request, f"Unknown model {label!r}.")
        else:
            try:
                removed = clear.clear(models[label])
                messages.success(request, f"Cleared {label}: {removed} keys removed.")
            except CacheUnavailable:
                messages.error(request, "The cache is unavailable.")
        return redirect("admin:cache")
    context = {
        **admin.site.each_context(request),
        "title": "Cache",
        "models": sorted(models),
        "available": client.ping(),
        "breaker_open": client.breaker.is_open,
    }
    if context["available"]:
        context["stats"] = stats.stats()
        context["recent"] = [
            (datetime.fromtimestamp(when, tz=UTC), what)
            for when, what in stats.recent_invalidations()
        ]
    return TemplateResponse(request, "admin/caching/cache.html", context)
