"""
A pytest plugin for projects that cache with this layer (entry point
``pytest11``: installed with the package, it loads by itself).

    def test_a_detail_is_served_from_the_cache(client, cache_events, product):
        client.get(f"/api/products/{product.pk}/")
        with cache_events.expect(queries=0, hits=1, misses=0):
            client.get(f"/api/products/{product.pk}/")

    def test_a_rename_invalidates_its_products(cache_events, product):
        product.category.name = "Novels"
        product.category.save()
        assert cache_events.invalidated(Category, product.category.pk)

Fixtures:

- ``cache_events``: records what the cache does during the test (reads with
  hit or miss, fills, fill conflicts, invalidations with their model and row)
  and asserts on it; ``expect(queries=..., hits=..., ...)`` checks a block;
- ``caching_settings``: ``caching_settings(TTL=60)`` changes ``CACHING`` for one
  test (pytest-django's ``settings`` undoes it);
- ``cache_clean``: removes this layer's keys before and after a test, and
  closes the circuit breakers (use it with ``autouse`` in a conftest).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from caching import signals


@dataclass(frozen=True)
class Read:
    key: str
    group: str
    hit: bool


@dataclass(frozen=True)
class Filled:
    key: str
    stored: bool
    written: bool  # by write-through, not after a miss


@dataclass
class CacheEvents:
    """What the cache did while recording."""

    reads: list[Read] = field(default_factory=list)
    fills: list[Filled] = field(default_factory=list)
    invalidations: list[tuple[str, str]] = field(default_factory=list)  # (label, field)

    @property
    def hits(self) -> list[Read]:
        return [r for r in self.reads if r.hit]

    @property
    def misses(self) -> list[Read]:
        return [r for r in self.reads if not r.hit]

    @property
    def conflicts(self) -> list[Filled]:
        """Fills refused because a write overlapped the read (I1 caught)."""
        return [f for f in self.fills if not f.stored]

    def invalidated(self, model: Any, pk: Any = None) -> bool:
        """Return whether model (its row pk, or the model as a whole) was
        invalidated. ``model``: a model class or its "app.model" label."""
        from caching.orm import deps as dep

        if pk is None:
            wanted = {dep.table(model), dep.all_rows(model)}
        else:
            wanted = {dep.row(model, pk)}
        return bool(wanted & set(self.invalidations))

    def clear(self) -> None:
        self.reads.clear()
        self.fills.clear()
        self.invalidations.clear()

    @contextmanager
    def expect(
        self,
        *,
        queries: int | None = None,
        hits: int | None = None,
        misses: int | None = None,
        fills: int | None = None,
    ) -> Iterator[CacheEvents]:
        """Check what the block does: SQL queries run, hits, misses, fills."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        before = (len(self.hits), len(self.misses), len(self.fills))
        with CaptureQueriesContext(connection) as captured:
            yield self
        done = {
            "queries": len(captured.captured_queries),
            "hits": len(self.hits) - before[0],
            "misses": len(self.misses) - before[1],
            "fills": len(self.fills) - before[2],
        }
        wanted = {"queries": queries, "hits": hits, "misses": misses, "fills": fills}
        wrong = {
            k: (v, done[k]) for k, v in wanted.items() if v is not None and v != done[k]
        }
        assert not wrong, ", ".join(
            f"{name}: expected {want}, got {got}" for name, (want, got) in wrong.items()
        ) + "".join(f"\n  {q['sql']}" for q in captured.captured_queries)


@pytest.fixture
def cache_events() -> Iterator[CacheEvents]:
    """Record the cache's reads, fills and invalidations during the test."""
    events = CacheEvents()

    def on_read(sender: Any, *, key: str, group: str, hit: bool, **kw: Any) -> None:
        events.reads.append(Read(key, group, hit))

    def on_fill(
        sender: Any, *, key: str, stored: bool, written: bool, **kw: Any
    ) -> None:
        events.fills.append(Filled(key, stored, written))

    def on_invalidate(sender: Any, *, wire: str, **kw: Any) -> None:
        for item in filter(None, wire.split(";")):
            label, _, name = item.partition("|")
            events.invalidations.append((label, name))

    connected: list[tuple[Any, Callable[..., None]]] = [
        (signals.cache_read, on_read),
        (signals.cache_filled, on_fill),
        (signals.cache_invalidated, on_invalidate),
    ]
    for signal, receiver in connected:
        signal.connect(receiver, weak=False)
    yield events
    for signal, receiver in connected:
        signal.disconnect(receiver)


@pytest.fixture
def caching_settings(settings: Any) -> Callable[..., None]:
    """Return a function that changes CACHING for this test: f(TTL=60)."""

    def override(**values: Any) -> None:
        settings.CACHING = {**getattr(settings, "CACHING", {}), **values}

    return override


def delete_layer_keys() -> None:
    """Remove every key of this layer and fence again, as a new connection
    would (so a test never starts mid-fence)."""
    from caching.store import client, fence, keys

    redis = client.connection()
    found = list(redis.scan_iter(match=keys.pattern(), count=1000))
    if found:
        redis.delete(*found)
    fence.ensure(redis)


@pytest.fixture
def cache_clean() -> Iterator[None]:
    """Start and end the test with none of this layer's keys, none of the
    pages' plans, recipes and rereads this process keeps, and the circuit breakers
    closed."""
    _clean()
    yield
    _clean()


def _clean() -> None:
    from caching.http import recipes
    from caching.orm import pages
    from caching.store import client, rereads

    client.breaker.reset()
    delete_layer_keys()
    rereads.forget_all()
    pages.plans.forget()
    recipes.kept.forget()
