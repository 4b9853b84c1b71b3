"""WSGI entry point, served by gunicorn (see project/gunicorn_conf.py)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup(set_prefix=False)  # what get_wsgi_application() does: then the cache layer

from caching.http.wsgi import CachedApplication, DjangoHandler  # noqa: E402

# Django's handler, taking the URL resolution the hit path made for a miss.
django_application = DjangoHandler()
application = CachedApplication(django_application)
