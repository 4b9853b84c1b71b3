"""manage.py cache_warm: fill every object's entries and the declared pages."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from caching.management.commands._models import resolve_models
from caching.ops import warm


class Command(BaseCommand):
    help = "Fill the cache with every object's entries and the first list pages."

    def add_arguments(self, parser):
        parser.add_argument("--model", help="only this model (app_label.Model)")

    def handle(self, *args, **opts):
        total = 0
        models = resolve_models(opts["model"])
        for model in models:
            count = model._default_manager.count()
            if sys.stdout.isatty():
                with tqdm(
                    desc=model._meta.label, unit="entries", file=sys.stdout
                ) as bar:
                    stored = warm.warm([model], progress=bar.update)
            else:
                stored = warm.warm([model])
                self.stdout.write(
                    f"{model._meta.label}: {count} objects, {stored} entries"
                )
            total += stored
        pages = warm.warm_pages(models if opts["model"] else None)
        self.stdout.write(f"pages: {pages}")
        self.stdout.write(self.style.SUCCESS(f"Warmed {total + pages} entries."))
