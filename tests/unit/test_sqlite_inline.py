"""SQLite's statements run on the event loop, but what waits does not: a
writer waiting for another process's write lock leaves the loop serving
readers, and its write lands once the lock is free."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'i.db'}")
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE notes (body TEXT)"))
    yield database
    await database.close()


async def _count(db: Database) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM notes")) or 0)


async def test_a_writer_waiting_for_another_process_leaves_the_loop_free(db: Database) -> None:
    assert db.url.database is not None
    other = sqlite3.connect(db.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock

    async def write() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO notes VALUES ('after the lock')"))

    writing = asyncio.create_task(write())
    for _ in range(5):  # let the writer reach the lock (a read alone never yields)
        await asyncio.sleep(0)
    for _ in range(3):  # the loop still serves readers while the writer waits
        assert await _count(db) == 0
    assert not writing.done()
    other.execute("COMMIT")
    other.close()
    await writing
    assert await _count(db) == 1


async def test_a_failed_statement_rolls_back_and_the_connection_goes_on(db: Database) -> None:
    with pytest.raises(Exception, match="no such table"):
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO notes VALUES ('lost')"))
            await conn.execute(text("SELECT * FROM missing"))
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO notes VALUES ('kept')"))
    assert await _count(db) == 1
