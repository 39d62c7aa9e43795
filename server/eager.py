"""A task started eagerly, as Python 3.12's eager tasks are: its first step
(up to its first wait) runs at once, in the caller's step.

A task's first step waits for the event loop's next iteration. Under load
an iteration is long, and a message's latency is the number of iterations
it passes through times their length: run in a task of its own, a
pipelined call's first step waited one, and its write joined a later
batch (``benchmarks/README.md``, issue 22, twenty-sixth session).

As in an eager task, the first step runs as the task's own:
``asyncio.current_task()`` is the task (what ``asyncio.timeout`` cancels
when it expires), not the caller's. Python 3.11 has no eager tasks, so
the first step is run here, the loop's current task switched around it
with asyncio's ``_enter_task`` and ``_leave_task`` (3.12 has
``_swap_current_task``)."""

from __future__ import annotations

import asyncio
import contextvars
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["start_eagerly"]

T = TypeVar("T")


def start_eagerly(coro: Coroutine[Any, Any, T], context: contextvars.Context) -> asyncio.Task[T]:
    """A task running ``coro`` in ``context``, whose first step (up to its
    first wait) has already run when this returns. What that step raises,
    the task holds, as an eager task would (``KeyboardInterrupt`` too: the
    loop stops at the task's next step, not at once)."""
    loop = asyncio.get_running_loop()
    rest = _Rest(coro)
    task = loop.create_task(rest, context=context)
    caller = asyncio.current_task(loop)
    if caller is not None:
        _leave_task(loop, caller)
    _enter_task(loop, task)
    try:
        context.run(rest.first_step)
    finally:
        _leave_task(loop, task)
        if caller is not None:
            _enter_task(loop, caller)
    return task


class _Rest(Coroutine[Any, Any, T]):
    """A coroutine whose first step was run before its task's: the task's
    first step takes what it came to (what it waits for, its result or
    its error); from then on, what the task sends or throws goes to the
    coroutine. A cancellation before the task's first step cancels what
    the coroutine waits for, as a task's would, unless it had finished."""

    __slots__ = ("_coro", "_first")
    _SHOWN = frozenset({"__qualname__", "__name__", "cr_code", "cr_frame", "cr_running"})

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self._coro = coro
        self._first: _Outcome | None = None  # until the task's first step

    def first_step(self) -> None:
        try:
            self._first = _Outcome(waiting=self._coro.send(None))
        except StopIteration as finished:
            self._first = _Outcome(finished=True, result=finished.value)
        except BaseException as error:  # the task's first step raises it
            self._first = _Outcome(error=error)

    def send(self, value: Any) -> Any:
        first, self._first = self._first, None
        if first is None:
            return self._coro.send(value)
        return first.handed_over()

    def throw(self, *thrown: Any) -> Any:
        first, self._first = self._first, None
        if first is None:
            return self._coro.throw(*thrown)
        if first.waiting is None or not isinstance(thrown[0], asyncio.CancelledError):
            return first.handed_over() if first.finished else self._coro.throw(*thrown)
        if first.waiting.cancel():  # the task is woken by it, and throws in where it waits
            return first.waiting
        return self._coro.throw(*thrown)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, T]:
        raise TypeError("a task runs it: it is not awaited")

    def __getattr__(self, name: str) -> Any:
        """What asyncio shows of a task (its repr, ``get_stack``): its coroutine's."""
        if name in _Rest._SHOWN:
            return getattr(self._coro, name)
        raise AttributeError(name)


class _Outcome:
    """How a first step ended: waiting (for a future, or None: a bare
    yield), finished with a result, or failed."""

    __slots__ = ("error", "finished", "result", "waiting")

    def __init__(
        self,
        *,
        waiting: Any = None,
        finished: bool = False,
        result: Any = None,
        error: BaseException | None = None,
    ) -> None:
        self.waiting = waiting
        self.finished = finished or error is not None
        self.result = result
        self.error = error

    def handed_over(self) -> Any:
        """To the task's first step: what the coroutine waits for, or its end."""
        if self.error is not None:
            error, self.error = self.error, None  # no cycle through this frame
            raise error
        if self.finished:
            raise StopIteration(self.result)
        return self.waiting
