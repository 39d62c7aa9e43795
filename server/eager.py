"""Start a coroutine at once, in the caller's step, as Python 3.12's eager
tasks do, and let a task carry it on once it waits.

A task's first step waits for the event loop's next iteration. Under load
an iteration is long, and a message's latency is the number of iterations
it passes through times their length: run in a task of its own, a
pipelined call's first step waited one, and its write joined a later
batch (``benchmarks/README.md``, issue 22, twenty-sixth session).

As in an eager task, the first step runs as the task's own:
``asyncio.current_task()`` is the task (what ``asyncio.timeout`` cancels
when it expires), not the caller's. Python 3.11 has no eager tasks, so
the first step is run here, with the loop's current task switched as 3.12
switches it (asyncio's ``_enter_task`` and ``_leave_task``)."""

from __future__ import annotations

import asyncio
import contextvars
from asyncio.tasks import _enter_task, _leave_task
from collections.abc import Coroutine, Generator
from types import FrameType
from typing import Any, TypeVar

__all__ = ["start_eagerly"]

T = TypeVar("T")


def start_eagerly(coro: Coroutine[Any, Any, T], context: contextvars.Context) -> asyncio.Task[T]:
    """A task running ``coro`` in ``context``, whose first step (up to its
    first wait) has already run when this returns. What that step raises,
    the task holds, as an eager task would."""
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
    coroutine. A cancellation before the task's first step is thrown in
    where the coroutine waits (the future it waits for is not cancelled),
    unless the coroutine had already finished."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, T]) -> None:
        self._coro = coro
        self._first: _Outcome | None = None  # until the task's first step

    def first_step(self) -> None:
        try:
            self._first = _Outcome(waiting=self._coro.send(None))
        except BaseException as ended:  # the task's first step raises it (StopIteration: returns)
            self._first = _Outcome(ended=ended)

    def send(self, value: Any) -> Any:
        first, self._first = self._first, None
        if first is None:
            return self._coro.send(value)
        if first.ended is not None:
            raise first.ended
        return first.waiting

    def throw(self, *thrown: Any) -> Any:
        first, self._first = self._first, None
        if first is not None and first.ended is not None:
            raise first.ended  # done before it could be cancelled, as an eager task
        return self._coro.throw(*thrown)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, T]:
        raise TypeError("a task runs it: it is not awaited")

    @property
    def cr_frame(self) -> FrameType | None:
        """The coroutine's frame, for the task's ``get_stack``."""
        return self._coro.cr_frame  # type: ignore[attr-defined,no-any-return]

    def __repr__(self) -> str:
        return repr(self._coro)


class _Outcome:
    """How a first step ended: waiting for something, or done (``ended``:
    ``StopIteration`` with the result, or the error)."""

    __slots__ = ("ended", "waiting")

    def __init__(self, *, waiting: Any = None, ended: BaseException | None = None) -> None:
        self.waiting = waiting  # a future, or None (a bare yield)
        self.ended = ended
