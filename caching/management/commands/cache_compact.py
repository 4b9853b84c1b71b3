"""manage.py cache_compact: drop invalidation stamps older than every entry."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from caching.store import compaction


class Command(BaseCommand):
    help = (
        "Compact the stamp hashes: drop stamps older than the longest TTL plus a "
        "margin (server processes do it every CACHE_COMPACT_EVERY seconds; run "
        "this from cron where none runs)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--horizon", type=float, help="seconds (default: CACHE_COMPACT_HORIZON)"
        )

    def handle(self, *args, **opts):
        result = compaction.compact(horizon=opts["horizon"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Removed {result.removed} stamps; {result.left} left "
                f"in {len(result.floors)} shard(s)."
            )
        )
