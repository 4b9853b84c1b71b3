"""
Checking the cache against the database: every servable object entry and
endpoint form is recomputed and compared (manage.py cache_verify).
"""

from __future__ import annotations

import json
import pickle
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import models

from caching.ops.warm import Progress, load, pk_chunks, rows
from caching.orm import writethrough
from caching.store import codec, keys
from caching.store.client import run


def pipelined_get(redis: Any, names: Iterable[str]) -> list:
    """GET many keys in one pipeline (MGET cannot cross hash slots in a cluster)."""
    pipe = redis.pipeline(transaction=False)
    for name in names:
        pipe.get(name)
    return pipe.execute()


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
    floors = [int(v or 0) for v in run(lambda r: pipelined_get(r, floor_keys))]

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
            all_pks = list(rows(model).values_list("pk", flat=True))
            pks = random.sample(all_pks, min(sample, len(all_pks)))
        for chunk in pk_chunks(model, pks):
            batch = load(model, chunk)
            expected = [
                entry for obj in batch for entry in writethrough.entries_for(obj)
            ]
            names = [k for k, _ in expected]
            cached = run(partial(pipelined_get, names=names))
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
