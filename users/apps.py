from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model

        from caching import track
        from users import signals
        from users.api import endpoints  # noqa: F401  (declares the cached endpoints)

        # Profiles embed their user's username and email: track User writes.
        track(get_user_model())
        signals.connect()
