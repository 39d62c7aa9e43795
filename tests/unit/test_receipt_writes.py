"""Receipts wait for the writer together; a covered one waits for the write
under way instead of writing again."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from server.receipt_writes import ReceiptWrites, Take
from storage.threads import Receipt


@dataclass(frozen=True)
class Plan:
    thread: int
    user: int
    wanted: Receipt


class Writes:
    """A writer whose writes take their receipts, and commit, when the test says so."""

    def __init__(self) -> None:
        self.taken: dict[int, list[Plan]] = {}  # each write's receipts, as taken
        self.takes: list[asyncio.Future[None]] = []  # each write runs (takes) once set
        self.commits: list[asyncio.Future[Sequence[Receipt | Exception | None] | Exception]] = []
        self.progress = asyncio.Condition()

    async def write_all(self, take: Take[Plan]) -> Sequence[Receipt | Exception | None]:
        loop = asyncio.get_running_loop()
        running, commit = loop.create_future(), loop.create_future()
        write = len(self.takes)
        self.takes.append(running)
        self.commits.append(commit)
        await self._changed()
        await running
        self.taken[write] = take()
        await self._changed()
        outcome = await commit
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def _changed(self) -> None:
        async with self.progress:
            self.progress.notify_all()

    async def until(self, writes: int = 0, taken: int | None = None) -> None:
        async with self.progress:
            await self.progress.wait_for(
                lambda: len(self.takes) >= writes and (taken is None or taken in self.taken)
            )

    async def run(self, write: int) -> list[Plan]:
        """Let write ``write`` take what waits; what it took."""
        self.takes[write].set_result(None)
        await self.until(taken=write)
        return self.taken[write]

    def commit_as_wanted(self, write: int) -> None:
        self.commits[write].set_result([plan.wanted for plan in self.taken[write]])


@pytest.fixture
def writes() -> Writes:
    return Writes()


@pytest.fixture
def receipts(writes: Writes) -> ReceiptWrites[Plan]:
    return ReceiptWrites(writes.write_all)


def storing(receipts: ReceiptWrites[Plan], plan: Plan) -> asyncio.Task[Receipt]:
    return asyncio.create_task(receipts.store(plan))


async def being_stored(
    receipts: ReceiptWrites[Plan], writes: Writes, plan: Plan
) -> asyncio.Task[Receipt]:
    """``plan``, taken by the first write, not yet committed."""
    task = storing(receipts, plan)
    await writes.until(writes=1)
    await writes.run(0)
    return task


async def committed(writes: Writes, write: int) -> list[Plan]:
    """Write ``write``, once it starts, run and committed; what it took."""
    await writes.until(writes=write + 1)
    taken = await writes.run(write)
    writes.commit_as_wanted(write)
    return taken


async def test_receipts_arriving_before_the_write_runs_join_it_sorted(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    plans = [Plan(2, 7, Receipt(3, 0)), Plan(1, 8, Receipt(4, 4)), Plan(1, 7, Receipt(5, 0))]
    tasks = [storing(receipts, plan) for plan in plans]
    await writes.until(writes=1)
    await asyncio.sleep(0)  # the other two arrive while the first write waits
    assert await committed(writes, 0) == sorted(plans, key=lambda p: (p.thread, p.user))
    assert [await task for task in tasks] == [plan.wanted for plan in plans]
    assert len(writes.takes) == 1


@pytest.mark.parametrize(
    "plan",
    [Plan(2, 7, Receipt(1, 0)), Plan(1, 7, Receipt(6, 0))],  # the first, taken, keeps its place
)
async def test_a_receipt_after_the_take_goes_in_the_next_write(
    writes: Writes, receipts: ReceiptWrites[Plan], plan: Plan
) -> None:
    first = await being_stored(receipts, writes, Plan(1, 7, Receipt(5, 0)))
    later = storing(receipts, plan)
    await asyncio.sleep(0)
    assert len(writes.takes) == 1  # one write at a time: the next starts after this one
    writes.commit_as_wanted(0)
    assert await first == Receipt(5, 0)
    assert await committed(writes, 1) == [plan]
    assert await later == plan.wanted


async def test_a_covered_receipt_waits_for_the_write_under_way(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    first = await being_stored(receipts, writes, Plan(1, 7, Receipt(5, 5)))
    second = storing(receipts, Plan(1, 7, Receipt(4, 0)))
    await asyncio.sleep(0)
    assert not second.done()  # not answered before the write it relies on is stored
    writes.commit_as_wanted(0)
    assert await first == await second == Receipt(5, 5)
    assert len(writes.takes) == 1


@pytest.mark.parametrize(
    ("first_wanted", "wanted"),
    [
        (Receipt(5, 5), Receipt(6, 0)),  # neither covers the other
        (Receipt(5, 0), Receipt(4, 4)),
        (Receipt(5, 5), Receipt(6, 6)),  # a read keeps its own line in the audit trail
    ],
)
async def test_a_receipt_not_taking_the_members_waiting_ones_place_is_written_after_it(
    writes: Writes, receipts: ReceiptWrites[Plan], first_wanted: Receipt, wanted: Receipt
) -> None:
    first = storing(receipts, Plan(1, 7, first_wanted))
    await writes.until(writes=1)
    second = storing(receipts, Plan(1, 7, wanted))
    await asyncio.sleep(0)
    assert await committed(writes, 0) == [Plan(1, 7, first_wanted)]  # one a member and thread
    assert await committed(writes, 1) == [Plan(1, 7, wanted)]
    assert (await first, await second) == (first_wanted, wanted)


@pytest.mark.parametrize("wanted", [Receipt(6, 0), Receipt(5, 5), Receipt(6, 6)])
async def test_a_receipt_covering_the_members_waiting_delivery_takes_its_place(
    writes: Writes, receipts: ReceiptWrites[Plan], wanted: Receipt
) -> None:
    """A device's receipts for a burst of messages (then its read): one write."""
    first = storing(receipts, Plan(1, 7, Receipt(5, 0)))
    await writes.until(writes=1)
    second = storing(receipts, Plan(1, 7, wanted))
    await asyncio.sleep(0)
    assert await committed(writes, 0) == [Plan(1, 7, wanted)]
    assert await first == await second == wanted
    assert len(writes.takes) == 1


async def test_receipts_behind_the_write_under_way_take_each_others_place(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    first = await being_stored(receipts, writes, Plan(1, 7, Receipt(5, 0)))
    later = [storing(receipts, Plan(1, 7, Receipt(seq, 0))) for seq in (6, 7, 8)]
    await asyncio.sleep(0)
    writes.commit_as_wanted(0)
    assert await first == Receipt(5, 0)
    assert await committed(writes, 1) == [Plan(1, 7, Receipt(8, 0))]
    assert [await task for task in later] == [Receipt(8, 0)] * 3
    assert len(writes.takes) == 2


async def test_the_receipts_a_refused_one_replaced_are_written_next_even_with_no_caller(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    gone = [storing(receipts, Plan(1, 7, Receipt(3, 0)))]
    await writes.until(writes=1)
    gone.append(storing(receipts, Plan(1, 7, Receipt(4, 0))))
    await asyncio.sleep(0)
    bogus = storing(receipts, Plan(1, 7, Receipt(99, 0)))
    await asyncio.sleep(0)
    for caller in gone:
        caller.cancel()  # its app closed
    assert await writes.run(0) == [Plan(1, 7, Receipt(99, 0))]  # in place of both
    writes.commits[0].set_result([ValueError("seq is beyond the thread's last message")])
    with pytest.raises(ValueError, match="beyond"):
        await bogus
    assert await committed(writes, 1) == [Plan(1, 7, Receipt(4, 0))]  # the newest, for both
    await receipts.drain()
    assert len(writes.takes) == 2


async def test_the_receipts_a_refused_one_replaced_answer_their_callers(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    first = storing(receipts, Plan(1, 7, Receipt(3, 0)))
    await writes.until(writes=1)
    second = storing(receipts, Plan(1, 7, Receipt(4, 4)))
    await asyncio.sleep(0)
    writes.commits[0].set_result([ValueError("seq is beyond the thread's last message")])
    await writes.run(0)
    with pytest.raises(ValueError, match="beyond"):
        await second
    later = storing(receipts, Plan(1, 7, Receipt(4, 0)))  # the rewrite waits: its place
    await asyncio.sleep(0)
    assert await committed(writes, 1) == [Plan(1, 7, Receipt(4, 0))]
    assert await first == await later == Receipt(4, 0)


async def test_a_refusal_is_raised_and_a_covered_waiter_writes_its_own(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    bogus = await being_stored(receipts, writes, Plan(1, 7, Receipt(99, 0)))
    fine = storing(receipts, Plan(1, 7, Receipt(3, 0)))
    await asyncio.sleep(0)
    writes.commits[0].set_result([ValueError("seq is beyond the thread's last message")])
    with pytest.raises(ValueError, match="beyond"):
        await bogus
    assert await committed(writes, 1) == [Plan(1, 7, Receipt(3, 0))]
    assert await fine == Receipt(3, 0)


async def test_a_failed_write_fails_what_it_took_and_the_next_still_runs(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    first = await being_stored(receipts, writes, Plan(1, 7, Receipt(5, 0)))
    later = storing(receipts, Plan(2, 7, Receipt(1, 0)))
    writes.commits[0].set_result(RuntimeError("the database failed"))
    with pytest.raises(RuntimeError):
        await first
    await committed(writes, 1)
    assert await later == Receipt(1, 0)


async def test_a_write_failing_before_it_takes_fails_what_waits(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    first = storing(receipts, Plan(1, 7, Receipt(5, 0)))
    await writes.until(writes=1)
    writes.takes[0].set_exception(RuntimeError("no connection"))  # fails before running
    with pytest.raises(RuntimeError, match="no connection"):
        await first
    again = storing(receipts, Plan(1, 7, Receipt(5, 0)))  # nothing left waiting for it
    await committed(writes, 1)
    assert await again == Receipt(5, 0)


async def test_a_caller_that_goes_away_leaves_the_others_answered(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    gone = storing(receipts, Plan(1, 7, Receipt(5, 0)))
    stays = storing(receipts, Plan(1, 8, Receipt(5, 0)))
    await writes.until(writes=1)
    gone.cancel()
    await committed(writes, 0)
    assert await stays == Receipt(5, 0)
    assert gone.cancelled()


async def test_a_receipt_queued_behind_another_is_written_when_its_caller_goes_away(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    """An app reads a message and closes: its read, queued behind its
    delivery still being stored, is written all the same."""
    delivered = await being_stored(receipts, writes, Plan(1, 7, Receipt(5, 0)))
    read = storing(receipts, Plan(1, 7, Receipt(5, 5)))
    await asyncio.sleep(0)
    read.cancel()  # the socket closed
    writes.commit_as_wanted(0)
    assert await delivered == Receipt(5, 0)
    assert await committed(writes, 1) == [Plan(1, 7, Receipt(5, 5))]
    assert read.cancelled()


async def test_a_stopping_node_cancels_the_receipts_queued_behind(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    delivered = await being_stored(receipts, writes, Plan(1, 7, Receipt(5, 0)))
    read = storing(receipts, Plan(1, 7, Receipt(5, 5)))
    await asyncio.sleep(0)
    writes.commits[0].cancel()  # the writer stopped under the write
    for task in (delivered, read):
        with pytest.raises(asyncio.CancelledError):
            await task
    again = storing(receipts, Plan(1, 7, Receipt(5, 5)))  # nothing left waiting for them
    await committed(writes, 1)
    assert await again == Receipt(5, 5)


async def test_a_receipt_the_write_could_not_try_joins_the_next(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    """Another node's transaction held the member's row: it is tried again."""
    held = await being_stored(receipts, writes, Plan(1, 7, Receipt(5, 0)))
    covered = storing(receipts, Plan(1, 7, Receipt(4, 0)))  # still waits for the same
    writes.commits[0].set_result([None])
    await asyncio.sleep(0)
    assert not held.done() and not covered.done()
    assert await committed(writes, 1) == [Plan(1, 7, Receipt(5, 0))]
    assert await held == await covered == Receipt(5, 0)


async def test_draining_writes_what_waits_behind_the_write_under_way(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    """A node stopping drains its receipts before its writer: the read
    queued behind a delivery is written, not left to a stopped writer."""
    delivered = await being_stored(receipts, writes, Plan(1, 7, Receipt(5, 0)))
    read = storing(receipts, Plan(1, 7, Receipt(5, 5)))
    await asyncio.sleep(0)
    drained = asyncio.create_task(receipts.drain())
    writes.commit_as_wanted(0)
    assert await committed(writes, 1) == [Plan(1, 7, Receipt(5, 5))]
    await drained
    assert (await delivered, await read) == (Receipt(5, 0), Receipt(5, 5))


async def test_a_stopping_node_cancels_the_receipts_a_write_stood_for(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    replaced = storing(receipts, Plan(1, 7, Receipt(5, 0)))
    await writes.until(writes=1)
    newest = storing(receipts, Plan(1, 7, Receipt(6, 0)))
    await asyncio.sleep(0)
    assert await writes.run(0) == [Plan(1, 7, Receipt(6, 0))]
    writes.commits[0].cancel()  # the writer stopped under the write
    for task in (replaced, newest):
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_receipt_the_write_could_not_try_may_have_its_place_taken(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    held = await being_stored(receipts, writes, Plan(1, 7, Receipt(5, 0)))
    writes.commits[0].set_result([None])
    await writes.until(writes=2)  # it waits for the next write again, not taken
    newer = storing(receipts, Plan(1, 7, Receipt(6, 0)))
    await asyncio.sleep(0)
    assert await committed(writes, 1) == [Plan(1, 7, Receipt(6, 0))]
    assert await held == await newer == Receipt(6, 0)


async def test_what_a_refused_write_stood_for_is_written_before_the_members_next_receipts(
    writes: Writes, receipts: ReceiptWrites[Plan]
) -> None:
    """A second device's receipt covered by the first waits for it, even
    once a bogus one took the first's place; the member's read, behind the
    bogus write, still comes after."""
    first = storing(receipts, Plan(1, 7, Receipt(5, 0)))
    await writes.until(writes=1)
    covered = storing(receipts, Plan(1, 7, Receipt(4, 0)))  # a second device's
    bogus = storing(receipts, Plan(1, 7, Receipt(99, 0)))
    await asyncio.sleep(0)
    assert await writes.run(0) == [Plan(1, 7, Receipt(99, 0))]
    read = storing(receipts, Plan(1, 7, Receipt(100, 100)))  # behind the write under way
    await asyncio.sleep(0)
    writes.commits[0].set_result([ValueError("seq is beyond the thread's last message")])
    with pytest.raises(ValueError, match="beyond"):
        await bogus
    assert await committed(writes, 1) == [Plan(1, 7, Receipt(5, 0))]
    assert await first == await covered == Receipt(5, 0)
    assert await committed(writes, 2) == [Plan(1, 7, Receipt(100, 100))]
    assert await read == Receipt(100, 100)
