"""manage.py cache_verify: compare cached entries with the database."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from caching.management.commands._models import resolve_models
from caching.ops import verify


class Command(BaseCommand):
    help = "Recompute cached objects and details from the database; exit 1 if stale."

    def add_arguments(self, parser):
        parser.add_argument("--model", help="only this model (app_label.Model)")
        parser.add_argument(
            "--sample", type=int, help="check N random objects per model"
        )

    def handle(self, *args, **opts):
        models = resolve_models(opts["model"])
        with tqdm(
            unit="objects", disable=not sys.stdout.isatty(), file=sys.stdout
        ) as bar:
            result = verify.verify(models, sample=opts["sample"], progress=bar.update)
        for entry in result.stale:
            self.stdout.write(f"STALE {entry.key}: {entry.diff}")
        summary = f"Checked {result.checked} cached entries: {len(result.stale)} stale."
        if result.stale:
            self.stderr.write(summary)
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS(summary))
