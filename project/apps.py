from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class ProjectConfig(AppConfig):
    """The project itself, as an app: what spans catalog and users (seeding)."""

    name = "project"
    verbose_name = "Shop"


class ShopAdminConfig(AdminConfig):
    default_site = "project.admin.ShopAdminSite"
