from django.apps import AppConfig, apps
from django.conf import settings


class CachingConfig(AppConfig):
    name = "caching"
    verbose_name = "Cache"

    def ready(self) -> None:
        from caching import checks, client, outbox, receivers  # noqa: F401

        receivers.connect()
        if apps.is_installed("rest_framework.authtoken"):
            from rest_framework.authtoken.models import Token

            from caching.registry import track

            track(Token)  # the fast hit path caches token -> user
        if outbox.drain not in client.breaker.recovery_hooks:
            client.breaker.recovery_hooks.append(outbox.drain)
        if getattr(settings, "EMBEDDED_REDIS", False):
            from caching import embedded

            embedded.ensure_running(settings.EMBEDDED_REDIS_SOCKET)
