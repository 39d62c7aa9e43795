"""Only the database being out of reach is ``Unavailable``: a bad write, or an
error of the caller's own inside a transaction, stays what it is (a bad
time zone is not a storage outage). And SQLite's statements run on the event
loop, but what waits does not: a writer waiting for another process's write
lock leaves the loop serving readers, and one that need not wait begins at
once, without a thread hop."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import Database, Unavailable
from storage.sqlite_inline import InlineConnection
from tests.support.server import free_port

T = TypeVar("T")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'e.db'}")
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE notes (body TEXT PRIMARY KEY)"))
    yield database
    await database.close()


async def _count(db: Database) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(text("SELECT count(*) FROM notes")) or 0)


async def test_a_database_nobody_answers_is_unavailable() -> None:
    database = Database(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
    try:
        with pytest.raises(Unavailable):
            async with database.read() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await database.close()


async def test_a_bad_write_is_not_an_outage(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO notes VALUES ('x'), ('x')"))


async def test_the_callers_own_os_error_is_not_an_outage(db: Database) -> None:
    with pytest.raises(IsADirectoryError):
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO notes VALUES ('y')"))
            raise IsADirectoryError("Europe")
    assert await _count(db) == 0  # and the transaction rolled back


async def test_a_writer_no_other_process_holds_back_begins_on_the_loop(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    hops: list[object] = []
    off_loop = InlineConnection.off_loop

    async def recorded(self: InlineConnection, call: Callable[..., T], *args: Any) -> T:
        hops.append(call)
        return await off_loop(self, call, *args)

    monkeypatch.setattr(InlineConnection, "off_loop", recorded)
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO notes VALUES ('at once')"))
        assert hops == []  # begun without leaving the loop
    assert [getattr(hop, "__name__", None) for hop in hops] == ["commit"]  # the fsync only
    assert await _count(db) == 1


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
