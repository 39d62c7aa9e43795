"""The group commit's transactions, one after another (``ConsecutiveWrites``):
on PostgreSQL they have a connection of their own, planning statements
once, kept while they follow each other; one that failed, was cancelled
or was ended by the database is not used again, and one that sat idle goes
back to its pool, which pings it before it is used again. On SQLite every
writer takes its turn on the one writing connection, kept open."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Integer, bindparam, column, table, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

import storage.db
from storage.db import ConsecutiveWrites, Database
from storage.hot import Hot
from tests.support.begin_cancelled import cancel_in_begin

_TALLY = table("tally", column("id", Integer), column("n", Integer))
_BUMP = Hot(update(_TALLY).where(_TALLY.c.id == bindparam("id")).values(n=_TALLY.c.n + 1))


async def _with_tally(database: Database) -> Database:
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE tally (id INTEGER PRIMARY KEY, n INTEGER)"))
        await conn.execute(text("INSERT INTO tally VALUES (1, 0)"))
    return database


@pytest.fixture
async def db(database_factory) -> AsyncIterator[Database]:
    database = await _with_tally(Database(database_factory()))
    yield database
    await database.close()


@pytest.fixture
async def writes(db: Database) -> AsyncIterator[ConsecutiveWrites]:
    consecutive = ConsecutiveWrites(db)
    yield consecutive
    await consecutive.close()


async def _bump(writes: ConsecutiveWrites) -> int | None:
    """One transaction bumping the tally; the backend that ran it (PostgreSQL)."""
    async with writes.write() as conn:
        await _BUMP.run(conn, {"id": 1})
        if conn.dialect.name != "postgresql":
            return None
        return int(await conn.scalar(text("SELECT pg_backend_pid()")))


async def _tally(db: Database) -> int:
    """The tally as a new connection reads it: what was committed."""
    elsewhere = Database(db.url.render_as_string(hide_password=False))
    try:
        async with elsewhere.read() as conn:
            return int(await conn.scalar(text("SELECT n FROM tally")))
    finally:
        await elsewhere.close()


def _checked_out(db: Database, writes: ConsecutiveWrites) -> int:
    """The writes' connections in use: on SQLite, the one every writer shares."""
    engine: Any = writes._engine or db._writer
    return engine.pool.checkedout()  # type: ignore[no-any-return]


async def test_each_transaction_commits_and_postgresql_keeps_one_connection(
    db: Database, writes: ConsecutiveWrites
) -> None:
    backends = {await _bump(writes) for _ in range(5)}
    assert await _tally(db) == 5
    if db.is_sqlite:
        assert _checked_out(db, writes) == 1  # kept, for every writer
        await db.close()
        assert _checked_out(db, writes) == 0
    else:
        assert _checked_out(db, writes) == 1  # kept between them (one backend either way)
        assert len(backends) == 1
        await writes.close()
        assert _checked_out(db, writes) == 0


async def test_on_sqlite_every_writer_takes_its_turn_on_the_one_connection(
    db: Database, writes: ConsecutiveWrites
) -> None:
    """Another writer's transaction, begun while the group commit's holds
    the connection, runs after it, on the same connection; the next one
    of the group commit's after that."""
    if not db.is_sqlite:
        pytest.skip("PostgreSQL's group commit has a connection of its own")
    order: list[str] = []
    holding, release = asyncio.Event(), asyncio.Event()

    async def group_commit() -> None:
        async with writes.write() as conn:
            await _BUMP.run(conn, {"id": 1})
            holding.set()
            await release.wait()
            order.append("group commit")

    async def other_writer() -> AsyncConnection:
        async with db.write() as conn:
            await _BUMP.run(conn, {"id": 1})
            order.append("other")
            return conn

    async def group_commit_again() -> None:
        await _bump(writes)
        order.append("group commit again")

    first = asyncio.create_task(group_commit())
    await holding.wait()
    other = asyncio.create_task(other_writer())
    again = asyncio.create_task(group_commit_again())
    await asyncio.sleep(0)
    assert not other.done()
    release.set()
    await asyncio.gather(first, again)
    async with writes.write() as conn:
        assert await other is conn
    assert order == ["group commit", "other", "group commit again"]
    assert await _tally(db) == 3


async def test_postgresql_plans_the_writers_statements_once(
    db: Database, writes: ConsecutiveWrites
) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite plans a statement once when it is prepared")
    async with writes.write() as conn:
        assert await conn.scalar(text("SHOW plan_cache_mode")) == "force_generic_plan"
    async with db.read() as conn:  # the other transactions' plans are PostgreSQL's choice
        assert await conn.scalar(text("SHOW plan_cache_mode")) == "auto"


async def test_reads_that_hold_every_pooled_connection_do_not_hold_the_writer_back(
    backend: str, database_factory
) -> None:
    if backend == "sqlite":
        pytest.skip("SQLite's readers have a pool of their own")
    db = await _with_tally(Database(database_factory(), pool_size=1))  # two pooled connections
    writes = ConsecutiveWrites(db)
    try:
        async with db.read(), db.read():
            await _bump(writes)
        assert await _tally(db) == 1
    finally:
        await writes.close()
        await db.close()


async def test_a_failed_transaction_is_rolled_back_and_its_connection_given_back(
    db: Database, writes: ConsecutiveWrites
) -> None:
    await _bump(writes)
    with pytest.raises(IntegrityError):
        async with writes.write() as conn:
            await _BUMP.run(conn, {"id": 1})
            await conn.execute(text("INSERT INTO tally VALUES (1, 0)"))  # its id is taken
    assert _checked_out(db, writes) == 0
    await _bump(writes)
    assert await _tally(db) == 2  # the failed one's bump undone


async def test_a_transaction_cancelled_in_its_begin_leaves_the_next_one_whole(
    db: Database, writes: ConsecutiveWrites
) -> None:
    """The writer stops while a transaction's BEGIN is on the wire:
    asyncpg keeps that transaction as begun, so the kept connection is
    dropped. Kept, the next transaction on it would be a savepoint of that
    one, whose commit commits nothing."""
    if db.is_sqlite:
        pytest.skip("SQLite's BEGIN has no answer on a wire to be cancelled before")
    await _bump(writes)
    await cancel_in_begin(_bump(writes))
    assert _checked_out(db, writes) == 0
    await _bump(writes)
    assert await _tally(db) == 2


async def test_a_connection_the_database_ended_is_replaced_before_the_next_write(
    db: Database, writes: ConsecutiveWrites
) -> None:
    """A restart or a failover ends the kept backend between two
    transactions: the next one runs on a new connection, not on that one."""
    if db.is_sqlite:
        pytest.skip("a SQLite file is not lost as a server connection is")
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


async def test_after_a_pause_the_pool_pings_the_connection_before_its_next_use(
    db: Database, writes: ConsecutiveWrites, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection idle for ``IDLE_PING_SECONDS`` goes back to the pool,
    dated from its last use: the pool's checkout pings it (and replaces it
    if the database ended it meanwhile)."""
    if db.is_sqlite:
        pytest.skip("SQLite's writing connection opens a local file: nothing to ping")
    backend = await _bump(writes)
    async with writes.write() as conn:
        adapter = (await conn.get_raw_connection()).dbapi_connection
    pinged: list[Any] = []
    ping = type(adapter).ping
    monkeypatch.setattr(type(adapter), "ping", lambda self: (pinged.append(self), ping(self))[1])
    writes._used = time.monotonic()
    await _bump(writes)
    assert pinged == []  # in use a moment ago: kept
    writes._used -= storage.db.IDLE_PING_SECONDS  # as if it had sat idle since
    assert await _bump(writes) == backend  # its pool's one connection, pinged
    assert pinged == [adapter]
