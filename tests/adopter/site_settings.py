"""An adopting project's settings: its own database, the Redis it is given."""

import os
from pathlib import Path

SECRET_KEY = "adopter-test-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "site_urls"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "caching",
    "notes",
]
MIDDLEWARE: list[str] = []
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(Path(os.environ["ADOPTER_DB_DIR"]) / "notes.sqlite3"),
    }
}
# The guide, step 1: a Redis cache through django-redis, and CACHING.
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
    }
}
CACHING = {"PREFIX": os.environ["ADOPTER_PREFIX"], "TTL": 60}
REST_FRAMEWORK = {"UNAUTHENTICATED_USER": None}
