from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self) -> None:
        # Declares the cached endpoints: write-through and DEL on change use them.
        from catalog.api import endpoints  # noqa: F401
