"""manage.py cache_clear: remove this app's entries only (never FLUSHDB)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from caching import conf
from caching.management.commands._models import resolve_models
from caching.ops import clear


class Command(BaseCommand):
    help = "Remove this app's cache entries (keys under CACHE_KEY_PREFIX only)."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--model", help="one model's entries (app_label.Model)")
        group.add_argument("--all", action="store_true", help="every entry of this app")

    def handle(self, *args, **opts):
        if opts["model"]:
            (model,) = resolve_models(opts["model"])
            removed = clear.clear(model)
            what = model._meta.label
        elif opts["all"]:
            removed = clear.clear()
            what = f"every entry under '{conf.key_prefix()}:'"
        else:  # argparse enforces one of them
            raise CommandError("give --model app_label.Model or --all")
        self.stdout.write(
            self.style.SUCCESS(f"Cleared {what}: {removed} keys removed.")
        )
