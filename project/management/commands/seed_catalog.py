"""manage.py seed_catalog: deterministic demo data, with a progress bar."""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from project import seeding


class Command(BaseCommand):
    help = "Insert a deterministic demo catalog and users (factory-boy, bulk inserts)."

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=10_000)
        parser.add_argument("--users", type=int, default=1_000)
        parser.add_argument("--categories", type=int, default=50)
        parser.add_argument("--tags", type=int, default=200)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when products exist"
        )

    def handle(self, *args, **opts):
        for name in ("products", "users", "categories", "tags"):
            if opts[name] < 0:
                raise CommandError(f"--{name} must be 0 or more")
        if not seeding.is_empty():
            if opts["if_empty"]:
                self.stdout.write("Catalog already has products; nothing to do.")
                return
            raise CommandError(
                "The catalog is not empty; use --if-empty to skip, or flush it first."
            )
        total = opts["products"] + opts["users"] + opts["categories"] + opts["tags"]
        started = time.monotonic()
        with tqdm(
            total=total,
            unit="rows",
            disable=not sys.stdout.isatty(),
            file=sys.stdout,
        ) as bar:
            counts = seeding.seed(
                products=opts["products"],
                users=opts["users"],
                categories=opts["categories"],
                tags=opts["tags"],
                seed=opts["seed"],
                progress=bar.update,
            )
        summary = ", ".join(f"{n} {name}" for name, n in counts.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {summary} in {time.monotonic() - started:.1f}s."
            )
        )
