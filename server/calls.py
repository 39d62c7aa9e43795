"""A connection's calls in flight: the next frame is read while a write waits.

A call whose writes go through the group commit (a send, a receipt) spends
most of its time waiting for the commit's fsync. Were the connection to read
nothing meanwhile, its next frames would wait unread in the kernel, a busy
device would add one operation per commit, and the loop would sit idle
while the commit runs: one device's burst would wait out one commit per
message. So such a call is *pipelined*: it runs in a task of its own,
started eagerly (``server.eager``: its first step runs at once); the
connection reads its next frame as soon as the call's writes are queued in
the writer (``queued``), in the order the frames came: most often without
leaving the step that read the frame.

What a client sees stays as if each call ran alone, in turn:

- answers go out in the order the calls came (a call answered early waits
  for those before it);
- writes are queued in the order the calls came, so a device's messages
  reach each thread in the order it sent them;
- any other frame (a read, a write of another kind, a ping, a frame that
  cannot be read) waits until every earlier call is answered: a call sees
  everything they wrote.

A retry sent right behind its own send may still be refused by its plan
(the rules or the devices changed), where, sent later, it would have been
answered as the duplicate it is: the plan's duplicate check reads what is
committed, as for a retry from another connection.

``PIPELINED_CALLS`` bounds how many calls one connection has in flight.
A device's burst then makes batches of several sends to one thread, which
the writer reads ahead and stores together (``server.writer``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar, copy_context
from typing import Any

from protocol.errors import CloseCode
from server.connection import Connection, Flag
from server.eager import start_eagerly

__all__ = ["PIPELINED_CALLS", "Calls", "queued"]

PIPELINED_CALLS = 16  # each holds its frame (up to ``max_frame_bytes``) until answered
Answer = Coroutine[Any, Any, bytes | None]  # the frame answering a call, if any

_QUEUED: ContextVar[asyncio.Future[None] | None] = ContextVar("queued", default=None)


def queued() -> None:
    """The pipelined call running here (if any) has queued its writes, in
    order: its connection may read its next frame. Called by the writers."""
    admitted = _QUEUED.get()
    if admitted is not None:
        _QUEUED.set(None)  # once: a later write of the call (after_send's) lets nothing go
        if not admitted.done():
            admitted.set_result(None)


class _Slot:
    """One call's place in the order of answers (and its task, pipelined)."""

    __slots__ = ("answer", "done", "task")

    def __init__(self) -> None:
        self.answer: bytes | None = None
        self.done = False
        self.task: asyncio.Task[None] | None = None


class Calls:
    """The calls of one connection, answered in the order they came (one
    for each link, idle or not: a few hundred bytes)."""

    __slots__ = ("_conn", "_failed", "_hurried", "_order", "_sent")

    def __init__(
        self,
        conn: Connection,
        failed: Callable[[Connection, Exception], None],
        hurried: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        """``failed``: what a pipelined call that raised (not refused: its
        handler answers refusals) does to the connection. ``hurried``: what
        a call waits for earlier ones in (their writes may be waiting for
        company: ``Writer.hurried``)."""
        self._conn = conn
        self._failed = failed
        self._hurried = hurried
        self._order: list[_Slot] = []  # calls not yet answered, in the order they came
        self._sent = Flag()  # an answer left: there may be room, or none left to wait for

    async def take(self, answer: Callable[[], Answer], *, pipelined: bool) -> None:
        """Answer a call (``answer()`` makes its coroutine): return once it is
        answered or, ``pipelined``, once its writes are queued. Any other
        call waits for every earlier one. From the moment it is taken, the
        connection is busy (a graceful finish waits for its answer); once
        the connection is closing, it is dropped unanswered."""
        slot = _Slot()
        self._order.append(slot)
        self._conn.busy = True
        try:
            if pipelined:
                if len(self._order) > PIPELINED_CALLS:
                    await self._after_earlier(lambda: len(self._order) <= PIPELINED_CALLS)
            elif self._order[0] is not slot:
                await self._after_earlier(lambda: self._order[0] is slot)
        except BaseException:
            self._answered(slot)
            raise
        if self._conn.closing:
            self._answered(slot)
        elif pipelined:
            await self._pipeline(answer, slot)
        else:
            try:
                slot.answer = await answer()
            finally:
                self._answered(slot)

    async def settled(self) -> None:
        """Wait until every call taken is answered."""
        while self._order:
            await self._one_answered()

    def running(self) -> list[asyncio.Task[None]]:
        """The pipelined calls still running."""
        tasks = [slot.task for slot in self._order if slot.task is not None]
        return [task for task in tasks if not task.done()]

    async def let_finish(self, seconds: float) -> None:
        """Once the socket has ended: let the pipelined calls still running
        finish, their answers dropped (their writes are queued, and what
        follows a commit, popups and receipt floors, still runs), for at most
        ``seconds`` (a writer that stopped answers no more); cancel the rest."""
        running = self.running()
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=seconds)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _after_earlier(self, ready: Callable[[], bool]) -> None:
        """Wait for earlier calls' answers until ``ready()``, hurried."""
        with self._hurried():
            while not ready():
                await self._one_answered()

    async def _one_answered(self) -> None:
        self._sent.clear()
        await self._sent.wait()

    async def _pipeline(self, answer: Callable[[], Answer], slot: _Slot) -> None:
        """Start the call's task eagerly (``start_eagerly``): most often it
        has queued its writes before it first waits, and the reader goes on
        without leaving this step."""
        admitted = asyncio.get_running_loop().create_future()
        context = copy_context()
        context.run(_QUEUED.set, admitted)
        task = slot.task = start_eagerly(self._pipelined(answer, slot, admitted), context)
        try:
            await admitted
        except asyncio.CancelledError:
            if admitted.cancelled():  # the reader went before the call queued its write
                task.cancel()
            raise

    async def _pipelined(
        self, answer: Callable[[], Answer], slot: _Slot, admitted: asyncio.Future[None]
    ) -> None:
        try:
            slot.answer = await answer()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
            # What the call awaited was cancelled (a node stopping): as when
            # the reader itself ran the call, the connection ends.
            self._conn.close(CloseCode.NORMAL)
        except Exception as exc:
            self._failed(self._conn, exc)
        finally:
            if not admitted.done():  # answered (or failed) without queuing a write
                admitted.set_result(None)
            self._answered(slot)

    def _answered(self, slot: _Slot) -> None:
        """Send every answer now due, in the order the calls came."""
        slot.done = True
        order = self._order
        while order and order[0].done:
            first = order.pop(0)
            if first.answer is not None:
                self._conn.send(first.answer)
            self._sent.set()
        if not order:
            self._conn.answered()
