"""Event seqs become visible in order, even when writers overlap: a writer
that takes a seq holds the counter until it commits, so nobody can commit a
higher seq first (the trap that makes a resuming reader skip an event)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from storage import NewEvent, Store


@pytest.fixture
async def store(database_factory) -> AsyncIterator[Store]:
    store = Store(database_factory())
    await store.db.migrate()
    yield store
    await store.close()


async def test_a_later_writer_waits_for_the_earlier_commit(store: Store) -> None:
    first_has_seq = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> list[int]:
        async with store.db.write() as conn:
            seqs = await store.events.append(conn, [NewEvent("receipt", user_id=1)], now=0)
            first_has_seq.set()
            await release_first.wait()
            return seqs

    async def second() -> list[int]:
        await first_has_seq.wait()
        async with store.db.write() as conn:
            return await store.events.append(conn, [NewEvent("receipt", user_id=1)], now=0)

    first_task, second_task = asyncio.create_task(first()), asyncio.create_task(second())
    await first_has_seq.wait()
    # While the first transaction is open, the second cannot take a seq, and a
    # reader sees neither event.
    done, _ = await asyncio.wait({second_task}, timeout=0.5)
    assert not done
    assert await store.events.after(user_id=1, cursor=0, limit=10, now=0) == []
    release_first.set()
    assert await first_task == [1]
    assert await second_task == [2]
    seen = await store.events.after(user_id=1, cursor=0, limit=10, now=0)
    assert [event.seq for event in seen] == [1, 2]


async def test_a_rolled_back_writer_leaves_no_gap(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.db.write() as conn:
            await store.events.append(conn, [NewEvent("receipt", user_id=1)], now=0)
            raise RuntimeError("abort")
    async with store.db.write() as conn:
        assert await store.events.append(conn, [NewEvent("receipt", user_id=1)], now=0) == [1]
    assert await store.events.head() == 1
