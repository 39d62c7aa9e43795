"""A popup's unread count (``server.popup_counts``), on both backends: each
exact up to its message, a thread's burst read once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from server.popup_counts import PopupCounts
from storage import Store
from storage.messages import UNREAD_CAP, Messages
from tests.support.rows import people, send, thread_of


class _Counted(Messages):
    """The store's messages, counting the unread reads (and failing one on demand)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.db)
        self.reads: list[tuple[int, int]] = []  # (read seq, up to)
        self.failing: set[int] = set()  # up to these seqs, a read fails once
        self.answer: int | None = None  # what every read answers, if not the store's

    async def unread(self, thread_id: int, after_seq: int, up_to: int) -> int:
        self.reads.append((after_seq, up_to))
        if up_to in self.failing:
            self.failing.discard(up_to)
            raise ConnectionError("the read failed")
        counted = await super().unread(thread_id, after_seq, up_to)
        return counted if self.answer is None else self.answer


@dataclass
class _Thread:
    store: Store
    messages: _Counted
    thread: int


@pytest.fixture
async def thread(database_factory) -> AsyncIterator[_Thread]:
    """A thread of a patient's messages: seqs 1 and 2, a notice (3), 4 to 8."""
    store = Store(database_factory())
    await store.db.migrate()
    patient, doctor = await people(store)
    thread, device = await thread_of(store, patient, doctor)
    for n in range(8):
        notice = n == 2  # the server's: no sending device, never counted
        sender = None if notice else device
        await send(store, thread, sender, patient, at=n, client_msg_id=f"m{n}")
    yield _Thread(store, _Counted(store), thread)
    await store.close()


async def test_a_bursts_counts_read_once_each_up_to_its_message(thread: _Thread) -> None:
    counts = PopupCounts(thread.messages)
    burst = [counts.unread(thread.thread, 0, seq) for seq in (4, 5, 6, 7)]
    assert await asyncio.gather(*burst) == [3, 4, 5, 6]  # seq 8 is stored, and not counted
    assert thread.messages.reads == [(0, 4)]
    assert await counts.unread(thread.thread, 0, 8) == 7
    assert await counts.unread(thread.thread, 7, 8) == 1  # up to date: nothing read
    assert thread.messages.reads == [(0, 4)]


async def test_a_count_past_a_message_not_counted_reads_again(thread: _Thread) -> None:
    counts = PopupCounts(thread.messages)
    assert await counts.unread(thread.thread, 0, 2) == 2
    assert await counts.unread(thread.thread, 0, 4) == 3  # the notice at 3 came between
    assert await counts.unread(thread.thread, 1, 5) == 3  # another read seq
    assert thread.messages.reads == [(0, 2), (0, 4), (1, 5)]


async def test_a_later_messages_count_first_keeps_its_place(thread: _Thread) -> None:
    """Popups may come out of order: an earlier message's count, read
    after a later one's, does not replace it."""
    counts = PopupCounts(thread.messages)
    assert await counts.unread(thread.thread, 0, 6) == 5
    assert await counts.unread(thread.thread, 0, 5) == 4
    assert await counts.unread(thread.thread, 0, 7) == 6  # one more than 6's
    assert thread.messages.reads == [(0, 6), (0, 5)]


async def test_after_a_failed_read_the_next_message_reads_its_own(thread: _Thread) -> None:
    counts = PopupCounts(thread.messages)
    thread.messages.failing.add(4)
    first, second = await asyncio.gather(
        counts.unread(thread.thread, 0, 4),
        counts.unread(thread.thread, 0, 5),
        return_exceptions=True,
    )
    assert isinstance(first, ConnectionError) and second == 4
    thread.messages.failing.add(6)
    with pytest.raises(ConnectionError):
        await counts.unread(thread.thread, 1, 6)
    assert await counts.unread(thread.thread, 1, 7) == 5  # 6's count had failed: read
    assert thread.messages.reads == [(0, 4), (0, 5), (1, 6), (1, 7)]


async def test_a_count_stops_at_the_cap(thread: _Thread) -> None:
    counts = PopupCounts(thread.messages)
    thread.messages.answer = UNREAD_CAP  # as if the member left that many unread
    assert await counts.unread(thread.thread, 0, 4) == UNREAD_CAP
    assert await counts.unread(thread.thread, 0, 5) == UNREAD_CAP


async def test_the_least_recent_counts_are_dropped(thread: _Thread) -> None:
    counts = PopupCounts(thread.messages, kept=2)
    for read_seq in (0, 1, 2):
        await counts.unread(thread.thread, read_seq, 4)
    await counts.unread(thread.thread, 2, 5)  # kept
    await counts.unread(thread.thread, 0, 5)  # dropped: read again
    assert thread.messages.reads == [(0, 4), (1, 4), (2, 4), (0, 5)]
