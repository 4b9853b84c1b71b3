from django.apps import AppConfig
from django.conf import settings


class CachingConfig(AppConfig):
    name = "caching"
    verbose_name = "Cache"

    def ready(self) -> None:
        from caching import checks, receivers  # noqa: F401  (registers checks)

        receivers.connect()
        if getattr(settings, "EMBEDDED_REDIS", False):
            from caching import embedded

            embedded.ensure_running(settings.EMBEDDED_REDIS_SOCKET)
