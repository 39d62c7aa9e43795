"""Start a coroutine at once, in the caller's step, as Python 3.12's eager
tasks do, and carry it on in a task only once it waits.

A task's first step runs in the event loop's next iteration. Under load an
iteration is long, and a message's latency is the number of iterations it
passes through times their length. A pipelined call that waited for its own
task added one: its write joined a later batch, behind the frames read
meanwhile. Started at once, the call's write is queued before the reader
reads its next frame (``benchmarks/README.md``, issue 22, twenty-sixth
session).

Unlike a task's, the first step runs in the caller's task: until the
coroutine first waits, ``asyncio.current_task()`` is the caller's, so that
step must not depend on it (``asyncio.timeout`` does)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["start_eagerly"]

T = TypeVar("T")


def start_eagerly(
    coro: Coroutine[Any, Any, T], context: contextvars.Context
) -> asyncio.Task[T] | None:
    """Run ``coro`` in ``context`` until it first waits, then on in a task
    (returned, in the same context); None if it finished without waiting.
    What it raises before it waits, the caller gets."""
    try:
        waiting = context.run(coro.send, None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(_Rest(coro, waiting), context=context)


class _Rest(Coroutine[Any, Any, T]):
    """The rest of a coroutine that waited outside any task, for a task to
    run: its first step hands the task what the coroutine waits for; from
    then on, what the task sends or throws (a cancellation, even before that
    first step) goes to the coroutine, as if the task had run it from the
    start."""

    __slots__ = ("_coro", "_waiting")

    def __init__(self, coro: Coroutine[Any, Any, T], waiting: Any) -> None:
        self._coro = coro
        self._waiting: Any = waiting  # a future, or None (a bare yield); once

    def send(self, value: Any) -> Any:
        waiting, self._waiting = self._waiting, _RESUMED
        return self._coro.send(value) if waiting is _RESUMED else waiting

    def throw(self, *thrown: Any) -> Any:
        self._waiting = _RESUMED
        return self._coro.throw(*thrown)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, T]:
        raise TypeError("a task runs it: it is not awaited")


_RESUMED = object()  # ``_Rest`` has handed over what its coroutine waited for
