"""
Operating the cache: warm, clear, stats and verify. The manage.py commands and
the admin's Cache page are thin wrappers around these functions.
"""

from __future__ import annotations

import json
import pickle
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.db import models
from django.test import Client

from caching import client, codec, keys, memory, store, writethrough
from caching.client import run
from caching.invalidation import invalidate
from caching.metrics import read_counters
from caching.registry import tracked_models

CHUNK = 500
Progress = Callable[[int], None]
_pages: dict[type[models.Model], list[str]] = defaultdict(list)


def register_pages(model: type[models.Model], *paths: str) -> None:
    """Have cache_warm fill these GET pages (first list pages) for model."""
    _pages[model].extend(p for p in paths if p not in _pages[model])


def cached_models() -> list[type[models.Model]]:
    """Return the models whose entries this app caches (not mere dependencies)."""
    return [m for m in tracked_models() if hasattr(m._default_manager, "get_cached")]


# --- warm ---------------------------------------------------------------------


def _pipelined_get(redis: Any, names: Iterable[str]) -> list:
    """GET many keys in one pipeline (MGET cannot cross hash slots in a cluster)."""
    pipe = redis.pipeline(transaction=False)
    for name in names:
        pipe.get(name)
    return pipe.execute()


def _rows(model: type[models.Model]) -> Any:
    """Return model's rows from the database (its manager is a CachedManager)."""
    manager: Any = model._default_manager
    return manager.uncached()


def _pk_chunks(model: type[models.Model], pks: list | None = None) -> Iterator[list]:
    if pks is None:
        pks = list(_rows(model).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), CHUNK):
        yield pks[start : start + CHUNK]


def _load(model: type[models.Model], pks: list) -> list[models.Model]:
    return list(_rows(model).with_embedded().filter(pk__in=pks))


def warm(
    models_: Iterable[type[models.Model]],
    *,
    progress: Progress = lambda n: None,
    pks: list | None = None,
) -> int:
    """Fill details and first list pages of models; return entries stored."""
    stored = 0
    for model in models_:
        for chunk in _pk_chunks(model, pks):
            asof = store.now_all()  # before the read of this batch (I12)
            batch = _load(model, chunk)
            entries = [
                entry for obj in batch for entry in writethrough.entries_for(obj)
            ]
            stored += store.fill_many(entries, asof)
            progress(len(entries))
        if pks is None:
            stored += _warm_pages(_pages[model])
            progress(len(_pages[model]))
    return stored


def _warm_pages(paths: list[str]) -> int:
    # List pages embed absolute links, so they are cached per host: warm each.
    hosts = [h.lstrip(".") for h in settings.ALLOWED_HOSTS if "*" not in h]
    warmed = 0
    for host in hosts or ["localhost"]:
        client = Client(HTTP_HOST=host)
        warmed += sum(client.get(path)["X-Cache"] != "BYPASS" for path in paths)
    return warmed


def refresh(objects: Iterable[models.Model]) -> int:
    """Refill the entries of these objects from the database (admin action)."""
    by_model: dict[type[models.Model], list] = defaultdict(list)
    for obj in objects:
        by_model[type(obj)].append(obj.pk)
    return sum(warm([model], pks=pks) for model, pks in by_model.items())


# --- clear --------------------------------------------------------------------


def _scan(pattern: str) -> Iterator[bytes]:
    yield from run(lambda redis: list(redis.scan_iter(match=pattern, count=1000)))


def _unlink(names: list[bytes], redis: Any) -> int:
    return redis.unlink(*names)


def _delete(found: Iterable[bytes]) -> int:
    batch = list(found)
    deleted = 0
    for start in range(0, len(batch), 1000):
        deleted += run(partial(_unlink, batch[start : start + 1000]))
    return deleted


def clear(model: type[models.Model] | None = None) -> int:
    """Remove this app's entries (SCAN + UNLINK, never FLUSHDB); return how many.

    With a model: its entries stop being served at once (its stamps move), and
    its object and query entries are deleted. Without: every entry is deleted.
    The clock and the stamps stay: deleting them could let an entry filled
    concurrently with an older snapshot look fresh.
    """
    if model is not None:
        invalidate(model)
        return _delete(_scan(keys.pattern(model)))
    entries = (k for k in _scan(keys.pattern()) if not keys.is_control(k.decode()))
    return _delete(entries)


# --- stats --------------------------------------------------------------------


def stats() -> dict:
    """Return hits, misses and ratios per group, invalidations, keys and memory."""
    counters = read_counters()
    groups: dict[str, dict] = defaultdict(
        lambda: {"hits": 0, "misses": 0, "conflicts": 0}
    )
    invalidations: dict[str, int] = {}
    for name, value in counters.items():
        kind, _, group = name.partition(":")
        if kind == "inval":
            invalidations[group] = value
        elif kind in {"hit", "miss", "conflict"}:
            groups[group][{"hit": "hits", "miss": "misses"}.get(kind, "conflicts")] = (
                value
            )
    for figures in groups.values():
        total = figures["hits"] + figures["misses"]
        figures["hit_ratio"] = round(figures["hits"] / total, 4) if total else None
    all_keys = list(_scan(keys.pattern()))
    used = 0
    for start in range(0, len(all_keys), 500):
        part = all_keys[start : start + 500]

        def usage(redis, part=part):
            pipe = redis.pipeline(transaction=False)
            for key in part:
                pipe.memory_usage(key)
            return pipe.execute()

        used += sum(n or 0 for n in run(usage))
    hits = sum(g["hits"] for g in groups.values())
    misses = sum(g["misses"] for g in groups.values())
    return {
        "hits": hits,
        "misses": misses,
        "hit_ratio": round(hits / (hits + misses), 4) if hits + misses else None,
        "groups": dict(sorted(groups.items())),
        "invalidations": dict(sorted(invalidations.items())),
        "keys": len(all_keys),
        "memory_bytes": used,
        "redis": {
            "topology": client.topology(),
            "shards": len(keys.roots()),
            "warnings": memory.problems(),
        },
    }


def recent_invalidations(limit: int = 20) -> list[tuple[int, str]]:
    """Return the latest invalidations as (unix time, stamps)."""
    rows = run(lambda redis: redis.lrange(keys.recent_key(), 0, limit - 1))
    result = []
    for row in rows:
        when, _, what = (row.decode() if isinstance(row, bytes) else row).partition(" ")
        result.append((int(when), what))
    return result


# --- verify -------------------------------------------------------------------


@dataclass
class StaleEntry:
    key: str
    diff: str


@dataclass
class Verification:
    checked: int = 0
    stale: list[StaleEntry] = field(default_factory=list)


def _servable(
    key: str, raw: bytes, floor: int, stamps: Callable[[str], dict]
) -> bytes | None:
    """Return the body of raw if the read script would serve it, else None."""
    head, _, rest = raw.partition(b"\n")
    wire, _, payload = rest.partition(b"\n")
    asof = int(head)
    if asof < floor:
        return None
    body = codec.unseal(key, head.decode(), wire, payload)
    if body is None:
        return None
    for item in filter(None, wire.decode().split(";")):
        label, _, fld = item.partition("|")
        stamp = stamps(label).get(fld.encode())
        if stamp is not None and int(stamp) > asof:
            return None
    return body


def _row(instance: models.Model) -> dict:
    values = {
        f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields
    }
    for name, related in getattr(instance, "_prefetched_objects_cache", {}).items():
        values[name] = sorted(obj.pk for obj in related)
    fld: Any
    for fld in instance._meta.concrete_fields:
        if fld.is_relation and fld.is_cached(instance):
            values[fld.name] = _row(fld.get_cached_value(instance))
    return values


def _diff(cached, fresh) -> str:
    if isinstance(cached, dict) and isinstance(fresh, dict):
        names = sorted(
            k for k in cached.keys() | fresh.keys() if cached.get(k) != fresh.get(k)
        )
        return "; ".join(
            f"{n}: cached {cached.get(n)!r}, database {fresh.get(n)!r}"
            for n in names[:4]
        )
    return "content differs"


def _compare(key: str, cached: bytes, expected: bytes) -> str | None:
    if cached == expected:
        return None
    if ":o:" in key:
        return _diff(_row(pickle.loads(cached)), _row(pickle.loads(expected))) or None
    try:  # a response: header line, then JSON
        body = lambda raw: json.loads(raw.partition(b"\n")[2])  # noqa: E731
        return _diff(body(cached), body(expected)) or None
    except ValueError:
        return "content differs"


def verify(
    models_: Iterable[type[models.Model]],
    *,
    sample: int | None = None,
    progress: Progress = lambda n: None,
) -> Verification:
    """Compare every servable object and detail entry with the database."""
    result = Verification()
    hashes: dict[str, dict] = {}
    floor_keys = [keys.floor_key(shard) for shard in range(len(keys.roots()))]
    floors = [int(v or 0) for v in run(lambda r: _pipelined_get(r, floor_keys))]

    def stamps_of(shard: int) -> Callable[[str], dict]:
        def stamps(label: str) -> dict:
            name = keys.version_key(label, shard)
            if name not in hashes:
                hashes[name] = run(lambda redis: redis.hgetall(name))
            return hashes[name]

        return stamps

    for model in models_:
        pks = None
        if sample is not None:
            all_pks = list(_rows(model).values_list("pk", flat=True))
            pks = random.sample(all_pks, min(sample, len(all_pks)))
        for chunk in _pk_chunks(model, pks):
            batch = _load(model, chunk)
            expected = [
                entry for obj in batch for entry in writethrough.entries_for(obj)
            ]
            names = [k for k, _ in expected]
            cached = run(partial(_pipelined_get, names=names))
            for (key, fill), raw in zip(expected, cached, strict=True):
                if raw is None:
                    continue
                shard = keys.shard_of(key)
                payload = _servable(key, raw, floors[shard], stamps_of(shard))
                if payload is None:
                    continue
                result.checked += 1
                diff = _compare(key, payload, fill.payload)
                if diff:
                    result.stale.append(StaleEntry(key, diff))
            progress(len(batch))
    return result
