"""The admin site, with the cache page added to it, and what every model's
admin adds to Django's."""

from __future__ import annotations

import math

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
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


class StrictInputAdmin(admin.ModelAdmin):
    """Crafted admin forms get a 400 or their form's errors, not a 500: Django's
    admin filters by some values before anything validates them (an action's
    selected ids, an autocomplete field's value on a form shown again)."""

    def response_action(self, request, queryset):
        pk = self.model._meta.pk
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                pk.to_python(value)
        except ValidationError:
            return HttpResponseBadRequest(
                "Invalid selection.", content_type="text/plain"
            )
        return super().response_action(request, queryset)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request):
            kwargs.setdefault(
                "widget",
                CheckedAutocompleteSelect(
                    db_field, self.admin_site, using=kwargs.get("using")
                ),
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class CheckedAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete select, except that a value sent that cannot be a
    key of its target shows as no selection (Django's queries by it: a 500)."""

    def optgroups(self, name, value, attr=None):
        opts = self.field.remote_field.model._meta
        target = opts.get_field(
            getattr(self.field.remote_field, "field_name", None) or opts.pk.name
        )
        return super().optgroups(name, [v for v in value if _valid(target, v)], attr)


def _valid(field, value) -> bool:
    try:
        field.to_python(value)
    except ValidationError:
        return False
    return True
