"""Profiles in the admin, standalone and inline on the user page."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from caching import CachedModelAdmin
from project.admin import StrictInputAdmin
from users.models import Profile


@admin.register(Profile)
class ProfileAdmin(StrictInputAdmin, CachedModelAdmin):
    list_display = ["user", "display_name", "location", "is_public", "updated_at"]
    list_filter = ["is_public"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email", "display_name", "location"]
    readonly_fields = ["updated_at"]
    raw_id_fields = ["user"]


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class UserAdmin(StrictInputAdmin, BaseUserAdmin):
    inlines = [ProfileInline]

    def get_inlines(self, request, obj):
        # On "add" the post_save signal creates the profile; an inline would too.
        return self.inlines if obj is not None else []
