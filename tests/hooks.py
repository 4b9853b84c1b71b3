"""Run test code at a point the application offers a hook list for."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def queued_at(hooks: list) -> Iterator[Callable[[Callable[[], object]], None]]:
    """Yield a function queueing actions; the next call of the hooks runs them
    (each once), whatever arguments the application passes."""
    actions: list[Callable[[], object]] = []

    def hook(*args: object) -> None:
        while actions:
            actions.pop(0)()

    hooks.append(hook)
    try:
        yield actions.append
    finally:
        hooks.remove(hook)
