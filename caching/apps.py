from django.apps import AppConfig, apps

from caching.store import keys


def _token_keys(key: str, instance: object = None) -> list[str]:
    return [keys.token_key(key)]


class CachingConfig(AppConfig):
    name = "caching"
    verbose_name = "Cache"

    def ready(self) -> None:
        from caching import checks  # noqa: F401  (registers the system checks)
        from caching.orm import capture, outbox, receivers
        from caching.orm.registry import own_entries, track
        from caching.store import client

        capture.install()
        receivers.connect()
        if apps.is_installed("rest_framework.authtoken"):
            from rest_framework.authtoken.models import Token

            track(Token)  # the fast hit path caches token -> user
            own_entries(Token, _token_keys)
        if outbox.drain not in client.recovery_hooks:
            client.recovery_hooks.append(outbox.drain)
        if outbox.apply_on_connection not in client.connection_hooks:
            client.connection_hooks.append(outbox.apply_on_connection)
