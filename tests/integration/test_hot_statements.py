"""Hot statements give what SQLAlchemy's own execution gives, on both
backends: the same rows and types, the same counts, the same errors, in
the same transaction. On PostgreSQL the first one of a transaction sends
the BEGIN of SQLAlchemy's adapter itself, straight on asyncpg, as the next
ones run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.errors import Unavailable
from storage.hot import Autocommit, Hot, _begun, _driver, adapter_of, insert_of
from tests.support.begin_cancelled import cancel_in_begin

_metadata = MetaData()
_notes = Table(
    "hot_notes",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("pinned", Boolean, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=True),
    Column("title", String(20), nullable=False, default="untitled"),
)
_ALL = (_notes.c.id, _notes.c.pinned, _notes.c.count, _notes.c.body, _notes.c.title)
_INSERT = Hot(insert_of(_notes, "id", "pinned", "count", "body", "title"))
_SELECT = Hot(select(*_ALL).where(_notes.c.count >= bindparam("least")).order_by(_notes.c.id))
_BUMP = Hot(
    update(_notes)
    .where(_notes.c.id == bindparam("note"))
    .values(count=_notes.c.count + 1)  # a literal the statement carries
    .returning(_notes.c.count, _notes.c.pinned)
)
_UNPIN = Hot(update(_notes).where(_notes.c.pinned.is_(True)).values(pinned=bindparam("off")))

_ROWS = [
    {"id": 1, "pinned": True, "count": 2**40, "body": b"\x00\xff", "title": "a"},
    {"id": 2, "pinned": False, "count": 0, "body": None, "title": "b"},
    {"id": 3, "pinned": True, "count": 7, "body": b"", "title": "c"},
]


@pytest.fixture
async def db(database_factory) -> AsyncIterator[Database]:
    database = Database(database_factory())
    async with database.write() as conn:
        await conn.run_sync(_metadata.create_all)
    async with database.write() as conn:
        await _INSERT.run_many(conn, _ROWS)
    yield database
    await database.close()


async def test_in_a_transaction_they_run_on_the_driver_from_the_first(db: Database) -> None:
    """On PostgreSQL the first one sends the adapter's BEGIN: SQLAlchemy then
    finds the transaction begun, and commits it (or rolls it back)."""
    async with db.write() as conn:
        assert (_driver(conn) or await _begun(conn)) is not None
        adapter = conn.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
        assert db.is_sqlite or adapter._transaction is not None  # type: ignore[union-attr]
        await _UNPIN.run(conn, {"off": False})
        assert [row[1] for row in await conn.execute(_SELECT.statement, {"least": 0})] == [
            False
        ] * 3
    async with db.read() as conn:  # committed
        assert [row[1] for row in await _SELECT.rows(conn, {"least": 0})] == [False] * 3


async def test_rows_are_sqlalchemys_rows(db: Database) -> None:
    async with db.read() as conn:
        plain = [tuple(row) for row in await conn.execute(_SELECT.statement, {"least": 1})]
        hot = await _SELECT.rows(conn, {"least": 1})
    assert hot == plain == [(1, True, 2**40, b"\x00\xff", "a"), (3, True, 7, b"", "c")]
    assert all(type(row[1]) is bool for row in hot)


async def test_literals_in_the_statement_are_bound(db: Database) -> None:
    async with db.write() as conn:
        await _SELECT.rows(conn, {"least": 0})
        assert await _BUMP.first(conn, {"note": 3}) == (8, True)
        assert await _BUMP.scalar(conn, {"note": 3}) == 9
        assert await _BUMP.first(conn, {"note": 99}) is None


async def test_rows_many_are_each_runs_rows_in_turn(db: Database) -> None:
    """Run once per parameter set, one after the other (a note bumped twice
    counts both), the rows of every run in order, types converted, as
    ``rows`` would give one after the other; in a read as in a write."""
    bumps = [{"note": 3}, {"note": 99}, {"note": 1}, {"note": 3}]
    async with db.write() as conn:
        assert await _BUMP.rows_many(conn, bumps) == [(8, True), (2**40 + 1, True), (9, True)]
    async with db.read() as conn:
        assert await _BUMP.rows_many(conn, bumps[:1]) == [(10, True)]
        assert all(type(row[1]) is bool for row in await _BUMP.rows_many(conn, bumps))


async def test_run_counts_the_rows_changed(db: Database) -> None:
    async with db.write() as conn:
        await _SELECT.rows(conn, {"least": 0})
        assert await _UNPIN.run(conn, {"off": False}) == 2
        assert await _UNPIN.run(conn, {"off": False}) == 0
    async with db.read() as conn:
        assert [row[1] for row in await _SELECT.rows(conn, {"least": 0})] == [False] * 3


async def test_a_broken_constraint_is_sqlalchemys_error_and_rolls_back(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.write() as conn:
            await _BUMP.run(conn, {"note": 1})
            await _BUMP.run(conn, {"note": 1})
            await _INSERT.run(conn, _ROWS[0])  # its id is taken
    async with db.read() as conn:
        assert (await _SELECT.rows(conn, {"least": 0}))[0][2] == 2**40  # the bump is undone


async def test_a_connection_lost_mid_transaction_is_unavailable_then_replaced(
    db: Database,
) -> None:
    """The server ends the backend under a hot statement (a restart, a
    failover): the caller is told the database is unavailable, as through
    SQLAlchemy, and the next transaction runs on a new connection."""
    if db.is_sqlite:
        pytest.skip("a SQLite file is not lost as a server connection is")
    with pytest.raises(Unavailable):
        async with db.write() as conn:
            await _BUMP.run(conn, {"note": 1})  # it begins
            backend = await conn.scalar(text("SELECT pg_backend_pid()"))
            async with db.read() as other:
                await other.execute(text(f"SELECT pg_terminate_backend({backend})"))
            await _BUMP.run(conn, {"note": 1})
    async with db.write() as conn:
        assert await _BUMP.first(conn, {"note": 1}) == (2**40 + 1, True)


async def test_a_begin_cancelled_midway_leaves_no_connection_half_begun(db: Database) -> None:
    """A caller goes away (a socket closed mid-resume) while its
    transaction's BEGIN is on the wire: asyncpg keeps that transaction as
    begun, so its connection is dropped, not pooled. Reused, each later
    transaction on it would be a savepoint of that one, whose commit
    commits nothing."""
    if db.is_sqlite:
        pytest.skip("SQLite's BEGIN has no answer on a wire to be cancelled before")

    async def bump() -> None:
        async with db.write() as conn:
            await _BUMP.run(conn, {"note": 2})

    await cancel_in_begin(bump())
    async with db.write() as conn:
        await _BUMP.run(conn, {"note": 2})
    elsewhere = Database(db.url.render_as_string(hide_password=False))
    try:
        async with elsewhere.read() as conn:  # committed for every connection
            assert [row[2] for row in await _SELECT.rows(conn, {"least": 0})] == [2**40, 1, 7]
    finally:
        await elsewhere.close()


async def test_a_column_default_must_be_bound(db: Database) -> None:
    """A hot statement skips SQLAlchemy's Python-side defaults, so it will
    not run with a defaulted column left out rather than write a NULL."""
    defaulted = Hot(insert(_notes).values(id=bindparam("id"), pinned=False, count=0))
    async with db.write() as conn:
        await _SELECT.rows(conn, {"least": 0})
        with pytest.raises(ValueError, match="title"):
            await defaulted.run(conn, {"id": 4})


async def test_an_insert_gives_its_rowid_without_returning(db: Database) -> None:
    """SQLite: ``rowid`` is the id the new row was given (with none bound,
    the table's next); a broken constraint is SQLAlchemy's error, and an
    insert that wrote no row is refused (the connection's last rowid would
    be an older row's)."""
    if not db.is_sqlite:
        pytest.skip("a rowid is SQLite's (PostgreSQL's statements return their ids)")
    note = {"id": None, "pinned": False, "count": 1, "body": None, "title": "d"}
    async with db.write() as conn:
        assert [await _INSERT.rowid(conn, note), await _INSERT.rowid(conn, note)] == [4, 5]
        with pytest.raises(IntegrityError):
            await _INSERT.rowid(conn, _ROWS[0])  # its id is taken: nothing written
        ignoring = Hot(insert_of(_notes, *note).prefix_with("OR IGNORE"))
        with pytest.raises(RuntimeError, match="wrote 0"):
            await ignoring.rowid(conn, _ROWS[0])
    async with db.read() as conn:
        assert [row[0] for row in await _SELECT.rows(conn, {"least": 0})] == [1, 2, 3, 4, 5]
    async with db.write() as conn:
        assert await _INSERT.rowid(conn, {**note, "id": 9}) == 9
        assert await _INSERT.rowid(conn, note) == 10
    async with db.read() as conn:
        assert (await _SELECT.rows(conn, {"least": 0}))[-2:] == [
            (9, False, 1, None, "d"),
            (10, False, 1, None, "d"),
        ]


async def test_many_rows_in_one_call(db: Database) -> None:
    more = [{**row, "id": row["id"] + 10} for row in _ROWS]
    async with db.write() as conn:
        await _SELECT.rows(conn, {"least": 0})
        await _INSERT.run_many(conn, more)
    async with db.read() as conn:
        assert [row[0] for row in await _SELECT.rows(conn, {"least": 0})] == [1, 2, 3, 11, 12, 13]


async def test_a_read_of_one_statement_sees_every_commit_and_the_same_rows(db: Database) -> None:
    """``read_one``: on SQLite the kept autocommit connection, on
    PostgreSQL a pooled one outside any transaction (no BEGIN or COMMIT to
    wait for); each statement is a snapshot of its own, so a commit made
    after the last read is seen by the next."""
    async with db.read_one() as conn:
        if not db.is_sqlite:
            assert isinstance(conn, AsyncConnection)
            assert _driver(conn) is not None  # the statement goes straight to asyncpg
        before = await _SELECT.rows(conn, {"least": 0})
        assert isinstance(conn, Autocommit) == db.is_sqlite
        if not db.is_sqlite:
            assert adapter_of(conn)._transaction is None  # the driver began none
    async with db.write() as conn:
        await _BUMP.run(conn, {"note": 3})
    async with db.read_one() as conn:
        after = await _SELECT.rows(conn, {"least": 0})
        assert await _SELECT.first(conn, {"least": 2**41}) is None
    async with db.read() as conn:
        assert after == await _SELECT.rows(conn, {"least": 0})
    assert [row[2] for row in after] == [row[2] + (row[0] == 3) for row in before]


async def test_the_autocommit_connection_cannot_write(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("off SQLite, read_one lends a pooled connection: only reads are run there")
    with pytest.raises(Unavailable, match="readonly"):
        async with db.read_one() as conn:
            await _BUMP.first(conn, {"note": 3})


async def test_a_bursts_connections_are_kept_for_the_next(db: Database) -> None:
    """PostgreSQL's pool keeps every connection it opens: 20 reads at once
    leave 20 connections for the next burst, none closed and opened again."""
    if db.is_sqlite:
        pytest.skip("SQLite's reads share one kept connection")
    opened: list[object] = []
    event.listen(db._reader.sync_engine, "connect", lambda conn, _: opened.append(conn))

    async def read() -> None:
        async with db.read_one() as conn:
            await _SELECT.rows(conn, {"least": 0})
            await asyncio.sleep(0.01)  # all 20 out at once

    for _ in range(3):
        await asyncio.gather(*(read() for _ in range(20)))
    assert db._reader.pool.checkedin() == 20  # type: ignore[attr-defined]
    assert len(opened) <= 20
