from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "notes"

    def ready(self) -> None:
        from notes import views  # noqa: F401  (declares the cached endpoint)
