"""manage.py cache_clear: remove this app's entries only (never FLUSHDB)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from caching import conf
from caching.management.commands._models import resolve_models
from caching.ops import clear
from caching.orm.registry import tracked_models


class Command(BaseCommand):
    help = "Remove this app's cache entries (keys under CACHE_KEY_PREFIX only)."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--model", help="one model's entries (app_label.Model)")
        group.add_argument("--all", action="store_true", help="every entry of this app")

    def handle(self, *args, **opts):
        if opts["model"]:
            # Any model with entries of its own: a user changed in psql is
            # auth.User (the profiles embed it, a token's identity reads it).
            (model,) = resolve_models(opts["model"], among=tracked_models)
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
