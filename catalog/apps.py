from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        from catalog.api import cache  # noqa: F401  (registers write-through fillers)
