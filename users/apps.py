from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from caching.registry import track
        from users import signals
        from users.api import cache  # noqa: F401  (registers write-through fillers)

        # Profiles embed their user's username and email: track User writes.
        track(get_user_model())
        signals.connect()
