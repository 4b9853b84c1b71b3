from django.apps import AppConfig, apps
from django.conf import settings

from caching import keys


def _token_keys(key: str, instance: object = None) -> list[str]:
    return [keys.token_key(key)]


class CachingConfig(AppConfig):
    name = "caching"
    verbose_name = "Cache"

    def ready(self) -> None:
        from caching import capture, checks, client, outbox, receivers  # noqa: F401
        from caching.registry import own_entries, track

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
        if getattr(settings, "EMBEDDED_REDIS", False):
            from caching import embedded

            embedded.ensure_running(settings.EMBEDDED_REDIS_SOCKET)
