from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.caching.testapp"
    label = "testapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tests.caching.testapp import endpoints  # noqa: F401  (declares them)
