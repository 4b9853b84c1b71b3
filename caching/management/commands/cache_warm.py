"""manage.py cache_warm: fill details and first list pages, with progress."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from caching import operations
from caching.management.commands._models import resolve_models


class Command(BaseCommand):
    help = "Fill the cache with every object's entries and the first list pages."

    def add_arguments(self, parser):
        parser.add_argument("--model", help="only this model (app_label.Model)")

    def handle(self, *args, **opts):
        total = 0
        for model in resolve_models(opts["model"]):
            count = model._default_manager.count()
            if sys.stdout.isatty():
                with tqdm(
                    desc=model._meta.label, unit="entries", file=sys.stdout
                ) as bar:
                    stored = operations.warm([model], progress=bar.update)
            else:
                stored = operations.warm([model])
                self.stdout.write(
                    f"{model._meta.label}: {count} objects, {stored} entries"
                )
            total += stored
        self.stdout.write(self.style.SUCCESS(f"Warmed {total} entries."))
