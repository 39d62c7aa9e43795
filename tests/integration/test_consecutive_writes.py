"""The group commit's transactions, one after another (``ConsecutiveWrites``):
on PostgreSQL they share a connection while they follow each other, and
one that failed, sat idle or was ended by the database is not used again;
on SQLite each takes the pool's writing connection, as every writer does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

import storage.db
from storage.db import ConsecutiveWrites, Database


@pytest.fixture
async def db(database_factory) -> AsyncIterator[Database]:
    database = Database(database_factory())
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE tally (id INTEGER PRIMARY KEY, n INTEGER)"))
        await conn.execute(text("INSERT INTO tally VALUES (1, 0)"))
    yield database
    await database.close()


async def _bump(writes: ConsecutiveWrites) -> int | None:
    """One transaction bumping the tally; the backend that ran it (PostgreSQL)."""
    async with writes.write() as conn:
        await conn.execute(text("UPDATE tally SET n = n + 1 WHERE id = 1"))
        return await _backend(conn)


async def _backend(conn: AsyncConnection) -> int | None:
    if conn.dialect.name != "postgresql":
        return None
    return int(await conn.scalar(text("SELECT pg_backend_pid()")))


async def _tally(db: Database) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(text("SELECT n FROM tally")))


def _checked_out(db: Database) -> int:
    return db._writer.pool.checkedout()  # type: ignore[attr-defined, no-any-return]


async def test_each_transaction_commits_and_postgresql_keeps_one_connection(
    db: Database,
) -> None:
    writes = ConsecutiveWrites(db)
    backends = {await _bump(writes) for _ in range(5)}
    assert await _tally(db) == 5
    if db.is_sqlite:
        assert _checked_out(db) == 0  # the one writing connection, free for every writer
    else:
        assert len(backends) == 1 and _checked_out(db) == 1
    await writes.release()
    assert _checked_out(db) == 0


async def test_a_failed_transaction_is_rolled_back_and_its_connection_given_back(
    db: Database,
) -> None:
    writes = ConsecutiveWrites(db)
    await _bump(writes)
    with pytest.raises(IntegrityError):
        async with writes.write() as conn:
            await conn.execute(text("UPDATE tally SET n = n + 1 WHERE id = 1"))
            await conn.execute(text("INSERT INTO tally VALUES (1, 0)"))  # its id is taken
    assert _checked_out(db) == 0
    await _bump(writes)
    assert await _tally(db) == 2  # the failed one's bump undone
    await writes.release()


async def test_a_connection_the_database_ended_is_replaced_before_the_next_write(
    db: Database,
) -> None:
    """A restart or a failover ends the kept backend between two
    transactions: the next one runs on a new connection, not on that one."""
    if db.is_sqlite:
        pytest.skip("a SQLite file is not lost as a server connection is")
    writes = ConsecutiveWrites(db)
    backend = await _bump(writes)
    async with writes.write() as conn:
        raw = await conn.get_raw_connection()
    ended = asyncio.Event()
    raw.driver_connection.add_termination_listener(lambda _conn: ended.set())
    async with db.read() as other:
        await other.execute(text(f"SELECT pg_terminate_backend({backend})"))
    await ended.wait()
    assert await _bump(writes) != backend
    assert await _tally(db) == 2
    await writes.release()


async def test_after_a_pause_the_connection_is_checked_out_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection idle for ``IDLE_PING_SECONDS`` goes back to the pool
    before the next transaction, whose checkout pings it (``storage.db``:
    one the database ended meanwhile is replaced there)."""
    if db.is_sqlite:
        pytest.skip("SQLite's writing connection is checked out for each transaction")
    checkouts: list[object] = []
    event.listen(db._writer.sync_engine, "checkout", lambda *args: checkouts.append(args))
    writes = ConsecutiveWrites(db)
    for _ in range(3):
        await _bump(writes)
    assert len(checkouts) == 1
    monkeypatch.setattr(storage.db, "IDLE_PING_SECONDS", 0.0)  # every gap is a pause
    for _ in range(3):
        await _bump(writes)
    assert len(checkouts) == 4
    await writes.release()
