"""
The yardstick outside the project: plain Django answering a constant.

A settings module, URLconf and WSGI application in one file: `startproject`'s
apps and middleware, DEBUG off, and one function view returning precomputed
bytes (no database, no cache). `make bench` serves it with the same gunicorn
settings as the app (mode `django-constant`), so a cached hit can be compared
with what Django itself costs.

    DJANGO_SETTINGS_MODULE=bench.plain_django gunicorn bench.plain_django:application
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache

from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import path

SECRET_KEY = "bench-only-plain-django"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = __name__
USE_TZ = True
INSTALLED_APPS = [  # what startproject writes
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
MIDDLEWARE = [  # what startproject writes
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "static/"


@cache
def _body(size: int) -> bytes:
    return b'{"x":"' + b"x" * max(0, size - 8) + b'"}'


def constant(request: HttpRequest) -> HttpResponse:
    size = min(int(request.GET.get("size", "512") or 512), 1_000_000)
    return HttpResponse(_body(size), content_type="application/json")


urlpatterns = [path("bench/constant/", constant)]


@cache
def _django() -> Callable:
    return get_wsgi_application()


def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
    return _django()(environ, start_response)
