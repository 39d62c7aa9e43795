"""Only the database being out of reach is ``Unavailable``: a bad write, or an
error of the caller's own inside a transaction, stays what it is (a bad
time zone is not a storage outage). And SQLite's statements run on the event
loop, but what waits does not: a writer waiting for another process's write
lock leaves the loop serving readers, and one that need not wait begins at
once, without a thread hop. A writer that waits too long, for that lock
or for its turn on the writing connection, is ``Unavailable``."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import storage.db
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
    async with db.write() as conn:  # the busy timeout set back once begun
        assert await conn.scalar(text("PRAGMA busy_timeout")) == storage.db.BUSY_TIMEOUT_MS


async def test_a_writer_waiting_for_another_process_leaves_the_loop_free(db: Database) -> None:
    other = _locked_by_another_process(db)
    writing = asyncio.create_task(_write_note(db, "after the lock"))
    for _ in range(5):  # let the writer reach the lock (a read alone never yields)
        await asyncio.sleep(0)
    for _ in range(3):  # the loop still serves readers while the writer waits
        assert await _count(db) == 0
    assert not writing.done()
    other.execute("COMMIT")
    other.close()
    await writing
    assert await _count(db) == 1


def _locked_by_another_process(db: Database) -> sqlite3.Connection:
    assert db.url.database is not None
    other = sqlite3.connect(db.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


async def _write_note(db: Database, body: str) -> None:
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO notes VALUES (:body)"), {"body": body})


async def test_a_writer_that_waited_out_the_busy_timeout_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 50)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'e.db'}")
    async with db.write() as conn:
        await conn.execute(text("CREATE TABLE notes (body TEXT PRIMARY KEY)"))
    other = _locked_by_another_process(db)
    try:
        with pytest.raises(Unavailable):
            await _write_note(db, "never")
        other.execute("COMMIT")
        await _write_note(db, "once free")  # the connection is whole
    finally:
        other.close()
        await db.close()


async def test_a_writer_cancelled_while_waiting_for_the_lock_leaves_the_next_whole(
    db: Database,
) -> None:
    """Its BEGIN goes on in the worker thread: the writer waits for it,
    the loop still free, then rolls back what it began."""
    other = _locked_by_another_process(db)
    writing = asyncio.create_task(_write_note(db, "cancelled"))
    for _ in range(5):  # the writer reaches the lock
        await asyncio.sleep(0)
    for _ in range(2):  # a caller that goes away, cancelled again as ``server.ending`` does
        writing.cancel()
        for _ in range(5):
            await asyncio.sleep(0)
    assert await _count(db) == 0  # the loop serves readers meanwhile
    assert not writing.done()  # waiting for its BEGIN to end
    other.execute("COMMIT")
    other.close()
    with pytest.raises(asyncio.CancelledError):
        await writing
    await _write_note(db, "next")
    assert await _count(db) == 1


async def test_a_writer_that_waited_too_long_for_its_turn_is_unavailable(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.db, "TURN_TIMEOUT_SECONDS", 0.05)
    holding, done = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with db.write():
            holding.set()
            await done.wait()

    held = asyncio.create_task(hold())
    await holding.wait()
    with pytest.raises(Unavailable):
        await _write_note(db, "no turn")
    done.set()
    await held
    await _write_note(db, "its turn")
    assert await _count(db) == 1
