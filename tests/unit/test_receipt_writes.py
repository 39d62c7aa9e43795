"""A receipt covered by one being stored waits for it instead of writing."""

from __future__ import annotations

import asyncio

import pytest

from server.receipt_writes import ReceiptWrites
from storage.threads import Receipt


class Writes:
    """Writes that finish when the test says so."""

    def __init__(self) -> None:
        self.started: list[Receipt] = []
        self.gates: list[asyncio.Future[None]] = []
        self.progress = asyncio.Condition()

    def of(self, receipt: Receipt):
        async def write() -> Receipt:
            gate = asyncio.get_running_loop().create_future()
            self.started.append(receipt)
            self.gates.append(gate)
            async with self.progress:
                self.progress.notify_all()
            await gate
            return receipt

        return write

    async def until_started(self, count: int) -> None:
        async with self.progress:
            await self.progress.wait_for(lambda: len(self.started) >= count)


def storing(
    receipts: ReceiptWrites, writes: Writes, wanted: Receipt, thread: int = 1, user: int = 7
) -> asyncio.Task[Receipt]:
    """User 7's receipt in thread 1 (unless told otherwise), being stored."""
    return asyncio.create_task(receipts.store(thread, user, wanted, writes.of(wanted)))


async def test_a_covered_receipt_waits_for_the_write_under_way() -> None:
    writes, receipts = Writes(), ReceiptWrites()
    first = storing(receipts, writes, Receipt(5, 5))
    await writes.until_started(1)
    second = storing(receipts, writes, Receipt(4, 0))
    await asyncio.sleep(0)
    assert not second.done()  # not answered before the write it relies on is stored
    writes.gates[0].set_result(None)
    assert await first == await second == Receipt(5, 5)
    assert writes.started == [Receipt(5, 5)]


@pytest.mark.parametrize(
    ("other_thread", "other_user", "wanted"),
    [(1, 7, Receipt(6, 0)), (1, 7, Receipt(5, 6)), (2, 7, Receipt(1, 0)), (1, 8, Receipt(1, 0))],
)
async def test_a_receipt_not_covered_is_written(
    other_thread: int, other_user: int, wanted: Receipt
) -> None:
    writes, receipts = Writes(), ReceiptWrites()
    first = storing(receipts, writes, Receipt(5, 5))
    await writes.until_started(1)
    second = storing(receipts, writes, wanted, other_thread, other_user)
    await writes.until_started(2)
    for gate in writes.gates:
        gate.set_result(None)
    assert (await first, await second) == (Receipt(5, 5), wanted)


async def test_when_the_write_fails_the_waiter_writes_its_own() -> None:
    writes, receipts = Writes(), ReceiptWrites()
    first = storing(receipts, writes, Receipt(5, 0))
    await writes.until_started(1)
    second = storing(receipts, writes, Receipt(3, 0))
    await asyncio.sleep(0)
    writes.gates[0].set_exception(RuntimeError("the database failed"))
    with pytest.raises(RuntimeError):
        await first
    await writes.until_started(2)
    writes.gates[1].set_result(None)
    assert await second == Receipt(3, 0)


async def test_a_finished_write_is_not_waited_for_again() -> None:
    writes, receipts = Writes(), ReceiptWrites()
    first = storing(receipts, writes, Receipt(5, 0))
    await writes.until_started(1)
    writes.gates[0].set_result(None)
    await first
    later = storing(receipts, writes, Receipt(5, 0))
    await writes.until_started(2)
    writes.gates[1].set_result(None)
    assert await later == Receipt(5, 0)
