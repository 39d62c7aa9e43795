"""``storage.batches.Batched``: a caller alone is read at once; while a
read is under way, those who ask meanwhile are read together in the next,
``MOST_READ_TOGETHER`` at most; a failure reaches each caller of its read,
a caller cancelled leaves the others their answer, and a read cancelled or
answering wrong leaves no caller waiting."""

from __future__ import annotations

import asyncio

import pytest

from storage.batches import MOST_READ_TOGETHER, Batched


class Reads:
    """A read of many that records what each read was asked and answers
    when told."""

    def __init__(self) -> None:
        self.asked: list[list[int]] = []
        self.open = asyncio.Event()
        self.failure: Exception | None = None

    async def read(self, asked: list[int]) -> list[int]:
        self.asked.append(asked)
        await self.open.wait()
        if self.failure is not None:
            raise self.failure
        return [n * 10 for n in asked]


async def test_a_caller_alone_is_read_at_once() -> None:
    reads = Reads()
    reads.open.set()
    batched = Batched(reads.read, MOST_READ_TOGETHER)
    assert await batched(1) == 10
    assert await batched(2) == 20
    assert reads.asked == [[1], [2]]


async def test_those_who_ask_while_a_read_is_under_way_are_read_together() -> None:
    reads = Reads()
    batched = Batched(reads.read, MOST_READ_TOGETHER)
    callers = [asyncio.ensure_future(batched(n)) for n in range(1, 7)]
    await asyncio.sleep(0)
    reads.open.set()
    assert await asyncio.gather(*callers) == [10, 20, 30, 40, 50, 60]
    assert reads.asked == [[1], [2, 3, 4, 5, 6]]


async def test_a_failure_reaches_each_caller_of_its_read() -> None:
    reads = Reads()
    reads.failure = ConnectionError("down")
    batched = Batched(reads.read, MOST_READ_TOGETHER)
    callers = [asyncio.ensure_future(batched(n)) for n in range(3)]
    await asyncio.sleep(0)
    reads.open.set()
    for caller in callers:
        with pytest.raises(ConnectionError):
            await caller
    reads.failure = None
    assert await batched(4) == 40  # the next read is made


async def test_a_caller_cancelled_leaves_the_others_their_answer() -> None:
    reads = Reads()
    batched = Batched(reads.read, MOST_READ_TOGETHER)
    first, gone, third = (asyncio.ensure_future(batched(n)) for n in (1, 2, 3))
    await asyncio.sleep(0)
    gone.cancel()
    reads.open.set()
    assert await asyncio.gather(first, third) == [10, 30]
    assert gone.cancelled()
    assert reads.asked == [[1], [2, 3]]


async def test_a_read_answers_its_most_and_the_rest_wait_for_the_next() -> None:
    reads = Reads()
    batched = Batched(reads.read, MOST_READ_TOGETHER)
    many = MOST_READ_TOGETHER + 3
    callers = [asyncio.ensure_future(batched(n)) for n in range(many + 1)]
    await asyncio.sleep(0)
    reads.open.set()
    assert await asyncio.gather(*callers) == [n * 10 for n in range(many + 1)]
    assert [len(asked) for asked in reads.asked] == [1, MOST_READ_TOGETHER, 3]


async def test_a_read_cancelled_cancels_its_callers_and_the_next_is_made() -> None:
    reads = Reads()
    reads.failure = asyncio.CancelledError()  # as a read cancelled at shutdown
    batched = Batched(reads.read, MOST_READ_TOGETHER)
    callers = [asyncio.ensure_future(batched(n)) for n in range(3)]
    await asyncio.sleep(0)
    reads.open.set()
    async with asyncio.timeout(10):  # left waiting, they would wait forever
        results = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(result, asyncio.CancelledError) for result in results)
    reads.failure = None
    assert await batched(4) == 40


async def test_a_read_answering_too_few_fails_each_caller() -> None:
    async def short(asked: list[int]) -> list[int]:
        return asked[:-1]

    batched = Batched(short, MOST_READ_TOGETHER)
    callers = [asyncio.ensure_future(batched(n)) for n in range(3)]
    for caller in callers:
        with pytest.raises(RuntimeError, match="answers to"):
            await caller


async def test_reads_of_one_are_made_by_each_caller() -> None:
    reads = Reads()
    reads.open.set()
    batched = Batched(reads.read, most_together=1)
    assert await asyncio.gather(*(batched(n) for n in range(3))) == [0, 10, 20]
    assert reads.asked == [[0], [1], [2]]
