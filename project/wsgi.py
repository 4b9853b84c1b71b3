"""WSGI entry point, served by gunicorn (see project/gunicorn_conf.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_application = get_wsgi_application()  # sets Django up: then the cache layer

from caching.http.wsgi import CachedApplication  # noqa: E402

application = CachedApplication(django_application)
