"""Reads of a cache's missing entries, shared while under way.

A node that has just started knows nothing: the first messages of 10,000
devices each miss their thread and practitioner, and a device's next
messages miss them again while the first read still waits for the
database. Each miss reading for itself multiplied the reads, and on
PostgreSQL the sends waited for a pooled connection until they were refused
(``benchmarks/README.md``, issue 22, twenty-eighth session). Here a miss
waits for the read already under way for the same entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable, Iterable
from typing import Any, Generic, TypeVar

__all__ = ["SharedLoads"]

T = TypeVar("T")


class SharedLoads(Generic[T]):
    """Loads under way, by key. A load started before the cache's
    ``generation`` moved (an invalidation) is not joined: what it read may
    be stale. Each read runs in a task of its own: a caller cancelled does
    not cancel it for the others."""

    def __init__(self) -> None:
        self._under_way: dict[Hashable, tuple[int, asyncio.Task[T]]] = {}

    async def load(
        self, key: Hashable, generation: int, read: Callable[[], Coroutine[Any, Any, T]]
    ) -> T:
        """``read()``'s result, from the read of ``key`` under way if it
        began in this ``generation``, else from a new one."""
        task = self._joinable(key, generation) or self._start([key], generation, read())
        return await asyncio.shield(task)

    async def load_together(
        self,
        keys: Iterable[Hashable],
        generation: int,
        read: Callable[[list[Hashable]], Coroutine[Any, Any, T]],
    ) -> list[T]:
        """What the reads under way of ``keys`` found, and what one
        ``read(others)`` of the others finds."""
        joined, others = set(), []
        for key in keys:
            task = self._joinable(key, generation)
            if task is None:
                others.append(key)
            else:
                joined.add(task)
        if others:
            joined.add(self._start(others, generation, read(others)))
        return [await asyncio.shield(task) for task in joined]

    def _joinable(self, key: Hashable, generation: int) -> asyncio.Task[T] | None:
        found = self._under_way.get(key)
        return found[1] if found is not None and found[0] == generation else None

    def _start(
        self, keys: list[Hashable], generation: int, read: Coroutine[Any, Any, T]
    ) -> asyncio.Task[T]:
        task = asyncio.ensure_future(read)
        for key in keys:
            self._under_way[key] = (generation, task)
        task.add_done_callback(lambda _: self._done(keys, task))
        return task

    def _done(self, keys: list[Hashable], task: asyncio.Task[T]) -> None:
        if not task.cancelled():
            task.exception()  # retrieved: each caller gets it, even if none is left
        for key in keys:
            if self._under_way.get(key, (0, None))[1] is task:
                del self._under_way[key]
