"""manage.py cache_stats: hits, misses and ratios per model and endpoint."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from caching.ops import stats as cache_stats


def ratio(value) -> str:
    return "-" if value is None else f"{value:.1%}"


class Command(BaseCommand):
    help = "Show cache hits, misses, hit ratios, invalidations, keys and memory."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable")

    def handle(self, *args, **opts):
        stats = cache_stats.stats()
        if opts["json"]:
            self.stdout.write(json.dumps(stats, indent=2))
            return
        out = self.stdout.write
        redis = stats["redis"]
        out(f"redis: {redis['topology']}, {redis['shards']} key shard(s)")
        for warning in redis["warnings"]:
            self.stderr.write(self.style.WARNING(f"WARNING: Redis {warning}."))
        out(f"keys: {stats['keys']}   memory: {stats['memory_bytes'] / 1024:.1f} KiB")
        out(
            f"all: {stats['hits']} hits, {stats['misses']} misses, "
            f"hit ratio {ratio(stats['hit_ratio'])}"
        )
        out("")
        header = ("model / endpoint", "hits", "misses", "ratio", "conflicts")
        out("{:<32}{:>10}{:>10}{:>9}{:>11}".format(*header))
        for group, row in stats["groups"].items():
            out(
                f"{group:<32}{row['hits']:>10}{row['misses']:>10}"
                f"{ratio(row['hit_ratio']):>9}{row['conflicts']:>11}"
            )
        out("")
        out(f"{'invalidations per model':<32}{'count':>10}")
        for model, count in stats["invalidations"].items():
            out(f"{model:<32}{count:>10}")
