"""Receipts being stored: every receipt that arrives while the writer is
busy joins the next write, one statement for them all."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from server.calls import queued
from storage.threads import Receipt

__all__ = ["ReceiptWrites", "Take", "Wanted", "WriteAll"]


class Wanted(Protocol):
    """A member's receipts in a thread to move up to ``wanted``."""

    @property
    def thread(self) -> int: ...
    @property
    def user(self) -> int: ...
    @property
    def wanted(self) -> Receipt: ...


P = TypeVar("P", bound=Wanted)
Take = Callable[[], list[P]]
# Stores what ``take()`` gives, in one transaction, and answers once it is
# committed: each one's receipts as stored, why not (a refusal, a failure),
# or None: not tried (another transaction holds the row), to write again.
WriteAll = Callable[[Take[P]], Awaitable[Sequence[Receipt | Exception | None]]]


def _covers(stored: Receipt, wanted: Receipt) -> bool:
    return stored.delivered_seq >= wanted.delivered_seq and stored.read_seq >= wanted.read_seq


Answer = asyncio.Future[Receipt | Exception]


@dataclass(slots=True)
class _Entry(Generic[P]):
    plan: P  # covers each of ``replaced``
    stored: Answer
    then: _Entry[P] | None = None  # the member's next receipt, written once this one is
    taken: bool = False  # by the write under way
    replaced: list[tuple[P, Answer]] = field(default_factory=list)  # the receipts it stands for


class ReceiptWrites(Generic[P]):
    """The receipts this node is storing, by thread and member.

    Receipts wait for the writer together: the first starts a write, and
    every receipt arriving before the writer runs it joins it (``take``).
    A write holds one receipt per member and thread. A member's devices
    acknowledge the same message at about the same moment: a receipt that
    the member's last one, waiting or being stored, covers waits for it
    instead of writing again, and is answered after its commit (so its
    answer still means stored); if that one is refused or fails, it
    writes its own (unless it waited for one that a newer receipt
    replaced, below: the rewrite answers it). One that covers the
    member's last while no write has taken it yet, and that last moves no
    read (the next message's delivery, the read of what was delivered),
    takes its place: a burst of messages to a device costs one write of
    its receipts, or two if one was being stored, not one after another,
    and each read still has its line in the audit trail. Should that
    write be refused or fail, the receipts it replaced are written next
    without it. Any other (one behind a receipt a write has taken, a
    delivery or a read after a read) is queued at once behind the
    member's last, and joins the write after it. A receipt queued, or
    replaced, is written even if its caller goes away meanwhile (an app
    closing). One that a write could not try (another transaction held
    the member's row) joins the next write. A receipt waiting or being
    stored counts as queued for its call (``server.calls``): its
    connection reads its next frame. (If the receipt it waits behind
    fails, it writes its own after what later calls queued: harmless,
    receipts only move forward.)"""

    def __init__(self, write_all: WriteAll[P]) -> None:
        self._write_all = write_all
        self._entries: dict[tuple[int, int], _Entry[P]] = {}  # each member's last, not yet stored
        self._next: list[_Entry[P]] = []  # not yet taken by a write
        self._writing: asyncio.Task[None] | None = None

    async def store(self, plan: P) -> Receipt:
        """The receipts as stored, covering ``plan.wanted``; or the
        refusal or failure of its write, raised."""
        key = (plan.thread, plan.user)
        while (last := self._entries.get(key)) is not None and _covers(
            last.plan.wanted, plan.wanted
        ):
            queued()  # behind ``last``, as if written
            stored = await asyncio.shield(last.stored)
            if isinstance(stored, Receipt):
                return stored
        answer: Answer = asyncio.get_running_loop().create_future()
        if last is not None and _replaceable(last, plan):
            last.replaced.append((last.plan, last.stored))
            last.plan, last.stored = plan, answer
        else:
            mine = _Entry(plan, answer)
            self._entries[key] = mine
            if last is None:
                self._queue(mine)
            else:
                last.then = mine
        queued()
        outcome = await asyncio.shield(answer)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def drain(self) -> None:
        """Wait until every receipt queued is written (a node stopping: before its writer)."""
        while self._writing is not None:
            await asyncio.wait({self._writing})

    def _queue(self, entry: _Entry[P]) -> None:
        self._next.append(entry)
        if self._writing is None:
            self._writing = asyncio.create_task(self._write(), name="receipt-writes")

    async def _write(self) -> None:
        """Write what waits, a write after another, until nothing waits."""
        try:
            while self._next:
                await self._write_next()
        finally:
            self._writing = None

    async def _write_next(self) -> None:
        taken: list[_Entry[P]] = []

        def take() -> list[P]:
            if not taken:  # the first call; a retry of the operation gets the same
                taken.extend(sorted(self._next, key=lambda e: (e.plan.thread, e.plan.user)))
                self._next.clear()
                for entry in taken:
                    entry.taken = True
            return [entry.plan for entry in taken]

        try:
            outcomes: Sequence[Receipt | Exception | None] = await self._write_all(take)
        except Exception as failure:  # before or after it took them: they fail with it
            take()
            outcomes = [failure] * len(taken)
        except BaseException:  # cancelled: the node is stopping
            take()
            for entry in [*taken, *self._next]:
                self._settle(entry, None)
            self._next.clear()
            raise
        for entry, outcome in zip(taken, outcomes, strict=True):
            if outcome is None:
                entry.taken = False
                self._next.append(entry)  # not tried: the next write tries it
            else:
                self._settle(entry, outcome)

    def _settle(self, entry: _Entry[P], outcome: Receipt | Exception | None) -> None:
        """Answer ``entry``'s callers and queue the member's next receipt
        (None: the node is stopping; cancel them and the receipts behind)."""
        key = (entry.plan.thread, entry.plan.user)
        if isinstance(outcome, Exception) and entry.replaced:
            entry.then = self._written_again(entry)
        if self._entries.get(key) is entry:
            del self._entries[key]
        answers = [entry.stored, *(answer for _, answer in entry.replaced)]
        if outcome is not None:
            for answer in answers:
                answer.set_result(outcome)
            if entry.then is not None:
                self._queue(entry.then)
            return
        for answer in answers:
            answer.cancel()
        if entry.then is not None:
            self._settle(entry.then, None)

    def _written_again(self, failed: _Entry[P]) -> _Entry[P]:
        """The receipts ``failed`` stood for, to write without it (it was
        refused, or its write failed): the newest covers the others. It
        comes next in the member's line, whether their callers are still
        there or not; ``failed`` stands for none of them any more."""
        (plan, answer), *older = reversed(failed.replaced)
        again = _Entry(plan, answer, failed.then, replaced=older[::-1])
        failed.replaced = []
        key = (plan.thread, plan.user)
        if self._entries.get(key) is failed:
            self._entries[key] = again
        return again


def _replaceable(last: _Entry[P], plan: P) -> bool:
    """Whether ``plan`` may take the place of the member's ``last`` receipt:
    no write has taken ``last``, ``plan`` covers it, and ``last`` moves no
    read (each read keeps its own line in the thread's audit trail)."""
    return (
        not last.taken and last.plan.wanted.read_seq == 0 and _covers(plan.wanted, last.plan.wanted)
    )
