"""Engines, transactions and migrations for SQLite (embedded) and PostgreSQL.

Writers on SQLite take the write lock up front (``BEGIN IMMEDIATE``) on the
one writing connection, kept open, taking turns, so a transaction never
fails half-way on a lock upgrade and readers, in WAL mode, never wait for
it. SQLite's statements run on the event loop's thread
(``storage.sqlite_inline``): only what waits, a commit's fsync or another
process's lock, goes to a worker thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, InvalidatePoolError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_

from storage.errors import Contention, Unavailable
from storage.hot import Autocommit, adapter_of
from storage.sqlite_inline import InlineConnection

__all__ = ["SQLITE_PRAGMAS", "ConsecutiveWrites", "Database"]

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
TURN_TIMEOUT_SECONDS = 30.0  # a writer waiting for SQLite's writing connection, as for a pool's
IDLE_PING_SECONDS = 1.0
_MIGRATION_LOCK = 0x6361726568756221  # pg advisory lock id ("carehub!")
# PostgreSQL plans a prepared statement anew at each call (a custom plan)
# while that looks cheaper than one plan for every call. At 1,000 msgs/s it
# did so for every call of a batch's events statement and half those of its
# reads ahead, 0.11 and 0.17 ms a plan, as long as executing them
# (``benchmarks/README.md``, issue 22, fifteenth session). With one plan,
# a partial index whose predicate is a value SQLAlchemy binds (a status
# such as ``'held'``) cannot serve the writer's statements.
GENERIC_PLANS = {"plan_cache_mode": "force_generic_plan"}
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=FULL",  # an acknowledged message survives power loss
    "foreign_keys=ON",
)
_LAST_USED = "last_used"  # a pooled connection's info: when last used, if before its return


def _sqlite_engine(url: str, pool_size: int, *, writes: bool) -> AsyncEngine:
    path = make_url(url).database
    assert path is not None

    async def connect() -> InlineConnection:
        return InlineConnection(path, durable_commits=writes, busy_timeout_ms=BUSY_TIMEOUT_MS)

    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, async_creator=connect)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        """Straight to SQLite, without SQLAlchemy's statement machinery,
        whose errors it raises as SQLAlchemy would (``_classified``). A
        connection whose BEGIN failed cannot begin again: its callers give
        it back (``_WriteTurns``, ``_transaction``)."""
        inline = conn.connection.driver_connection
        assert isinstance(inline, InlineConnection)
        try:
            if writes:  # it may wait for another process's write lock
                await_(inline.begin_writing())
            else:  # a reader never waits
                inline.sqlite.execute("BEGIN")
        except sqlite3.Error as exc:
            raise DBAPIError.instance("BEGIN", None, exc, sqlite3.Error) from exc

    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only if it sat idle: SQLAlchemy's
    ``pool_pre_ping`` pings at every checkout, and the asyncpg adapter's
    ping is three round trips (BEGIN, a query, ROLLBACK), more than most
    transactions' own statements. A connection asyncpg saw closed is
    replaced (and the pool's older ones with it); one used in the last
    ``IDLE_PING_SECONDS`` is trusted: if the server went away meanwhile, its
    first statement fails (``Unavailable``), and the writer runs the batch's
    operations again, one by one."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned"] = record.info.pop(_LAST_USED, None) or time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():  # asyncpg saw it end
            raise InvalidatePoolError("the database closed the connection")
        returned = record.info.get("returned")
        if returned is None or time.monotonic() - returned < IDLE_PING_SECONDS:
            return  # new, or in use a moment ago
        try:
            dbapi_connection.ping()
        except Exception as exc:  # the pool connects again, the older connections dropped
            raise InvalidatePoolError(f"an idle connection failed its ping: {exc!r}") from exc


def _postgres_engine(
    url: URL, pool_size: int, settings: Mapping[str, str] | None = None
) -> AsyncEngine:
    """A pool of ``pool_size`` connections, each kept once opened, with
    these session ``settings``: SET once connected rather than sent at its
    start, where a proxy such as PgBouncer refuses a name it does not know.
    No overflow: a connection opened past the pool's size for a burst is
    closed when it comes back, and the next burst opens it again (a backend
    forked, its statements prepared again). 2,000 devices resuming at once
    caught up in 6.5 s with 10 connections and 10 of overflow, in 5.0 s
    with 20 kept (``benchmarks/README.md``, twenty-eighth session)."""
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0)
    _ping_when_idle(engine)
    if settings:
        configure = "; ".join(f"SET {name} = {value}" for name, value in settings.items())

        @event.listens_for(engine.sync_engine, "connect")
        def _configure(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.run_async(lambda conn: conn.execute(configure))

    return engine


# What reaching the database can raise: the driver's own errors (wrapped by
# SQLAlchemy), a socket that will not connect, a pool with no free connection.
_CONNECT_FAILURES = (DBAPIError, OSError, TimeoutError, PoolTimeout)
_CONTENTION = {"40P01", "40001"}  # deadlock detected, serialization failure


async def _connect(engine: AsyncEngine) -> AsyncConnection:
    try:
        return await engine.connect()
    except _CONNECT_FAILURES as exc:
        raise Unavailable(f"cannot reach the database: {exc}") from exc


@contextmanager
def _classified() -> Iterator[None]:
    """The database being out of reach becomes ``Unavailable``; a lost
    deadlock becomes ``Contention``; any other error (a bad input, a bug,
    the caller's own exception) stays what it is."""
    try:
        yield
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) in _CONTENTION:
            raise Contention(f"the transaction lost a race: {exc.orig!r}") from exc
        if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
            raise Unavailable(f"the database failed: {exc.orig!r}") from exc
        raise


@asynccontextmanager
async def _committing(conn: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """``conn`` in a transaction that commits on success."""
    with _classified():
        async with conn.begin():
            yield conn


@asynccontextmanager
async def _autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection from the pool outside any transaction, for one
    statement (its own snapshot): one round trip instead of three, without
    BEGIN and COMMIT, each of which holds the connection for a loop
    iteration more."""
    conn = await _connect(engine)
    try:
        with _classified():
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn
    finally:
        await conn.close()  # the pool restores its isolation level


@asynccontextmanager
async def _transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection from the pool in a transaction that commits on success."""
    conn = await _connect(engine)
    try:
        async with _committing(conn):
            yield conn
    finally:
        await conn.close()


class _WriteTurns:
    """SQLite's writing connection, kept open from one write transaction to
    the next, which take turns on it in the order they come (SQLite writes
    one transaction at a time): a checkout from the pool and its return
    cost a fifth of an empty write transaction's CPU time
    (``benchmarks/README.md``, issue 22, twenty-first session). After a
    failed transaction the connection goes back to its pool, which rolls
    back what is left, and the next transaction checks it out again. A
    transaction waiting ``TURN_TIMEOUT_SECONDS`` for its turn is
    ``Unavailable``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._turn = asyncio.Lock()
        self._kept: AsyncConnection | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        await self._take_turn()
        try:
            if self._kept is None:
                self._kept = await _connect(self._engine)
            try:
                async with _committing(self._kept):
                    yield self._kept
            except BaseException:
                await self._give_back()
                raise
        finally:
            self._turn.release()

    async def _take_turn(self) -> None:
        try:
            async with asyncio.timeout(TURN_TIMEOUT_SECONDS):
                await self._turn.acquire()
        except TimeoutError as exc:
            raise Unavailable("SQLite's writing connection stayed busy") from exc

    async def _give_back(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            await kept.close()

    async def close(self) -> None:
        """Give the connection back once the transaction on it, if any, ends."""
        async with self._turn:
            await self._give_back()


class Database:
    """The store's connections. ``write()`` and ``read()`` yield a connection
    inside a transaction that commits on success and rolls back on error;
    an unreachable or failing database raises ``Unavailable``."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if self.url.database in (None, "", ":memory:"):
                raise ValueError("SQLite needs a file path (readers and the writer share it)")
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self._writer = _sqlite_engine(url, 1, writes=True)
            self._reader = _sqlite_engine(url, pool_size, writes=False)
            self._turns: _WriteTurns | None = _WriteTurns(self._writer)
            self._alone: Autocommit | None = Autocommit(
                self.url.database, self._reader.dialect, BUSY_TIMEOUT_MS
            )
        else:
            self._writer = _postgres_engine(self.url, 2 * pool_size)  # as many as before, kept
            self._reader = self._writer
            self._turns = None
            self._alone = None
        self._polling: AsyncConnection | None = None  # ``poll``'s, kept

    def write(self) -> AbstractAsyncContextManager[AsyncConnection]:
        if self._turns is not None:
            return self._turns.transaction()
        return _transaction(self._writer)

    def read(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return _transaction(self._reader)

    @asynccontextmanager
    async def read_one(self) -> AsyncIterator[AsyncConnection | Autocommit]:
        """Where to read one statement, its own snapshot: on SQLite the kept
        ``Autocommit`` connection, on PostgreSQL a pooled one outside any
        transaction."""
        if self._alone is None:
            async with _autocommit(self._reader) as conn:
                yield conn
            return
        with _classified():
            yield self._alone

    @asynccontextmanager
    async def poll(self) -> AsyncIterator[AsyncConnection]:
        """A connection for the one reader that polls (the event stream's
        follower), whose every statement sees what committed before it. On
        PostgreSQL it is one connection kept from poll to poll, outside any
        transaction: no checkout, BEGIN or COMMIT to wait for (after a
        failure the next poll connects again). On SQLite, a read
        transaction: its snapshot must be new at each poll."""
        if self.is_sqlite:
            async with self.read() as conn:
                yield conn
            return
        if self._polling is None:
            conn = await _connect(self._reader)
            self._polling = await conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            with _classified():
                yield self._polling
        except BaseException:
            polling, self._polling = self._polling, None
            await polling.close()
            raise

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision``; safe to run from several nodes at once."""
        async with self.write() as conn:
            if not self.is_sqlite:
                await conn.execute(text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})"))
            await conn.run_sync(_upgrade, revision)

    async def close(self) -> None:
        if self._polling is not None:
            await self._polling.close()
        if self._alone is not None:
            self._alone.close()
        if self._turns is not None:
            await self._turns.close()
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()


class ConsecutiveWrites:
    """Write transactions that one task runs one after another: the group
    commit's. On PostgreSQL they have a connection of their own, outside
    the pool other transactions share (a burst of reads cannot hold the
    writer back), kept from one transaction to the next while they follow
    within ``IDLE_PING_SECONDS``: a checkout and its return cost the event
    loop a quarter of a transaction's CPU time (``benchmarks/README.md``,
    issue 22, fifteenth session). Its statements are planned once, not for
    each call (``GENERIC_PLANS``). The connection goes back to its pool of
    one after a failed transaction, once asyncpg saw the database close it,
    and after a pause (dated from its last use, so the pool's checkout
    pings it). On SQLite they take their turns on the one writing
    connection, as every writer does (``_WriteTurns``). Its owner closes
    it before the database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._engine: AsyncEngine | None = None  # SQLite's writer shares the pool's one
        if not db.is_sqlite:
            self._engine = _postgres_engine(db.url, 1, settings=GENERIC_PLANS)
        self._kept: AsyncConnection | None = None
        self._used = 0.0  # when the kept connection's last transaction ended

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        if self._engine is None:
            async with self._db.write() as conn:
                yield conn
            return
        conn = await self._connection(self._engine)
        try:
            async with _committing(conn):
                yield conn
        except BaseException:
            await self._release()
            raise
        self._used = time.monotonic()

    async def _connection(self, engine: AsyncEngine) -> AsyncConnection:
        kept = self._kept
        if kept is not None and _closed(kept):
            await self._release()
        elif kept is not None and time.monotonic() - self._used >= IDLE_PING_SECONDS:
            kept.sync_connection.connection.info[_LAST_USED] = self._used  # type: ignore[union-attr]
            await self._release()
        if self._kept is None:
            self._kept = await _connect(engine)
        return self._kept

    async def _release(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            await kept.close()

    async def close(self) -> None:
        await self._release()
        if self._engine is not None:
            await self._engine.dispose()


def _closed(conn: AsyncConnection) -> bool:
    """asyncpg saw the database close the connection."""
    return bool(adapter_of(conn).driver_connection.is_closed())


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def upsert_into(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``table`` in the connection's dialect, which can say
    what a conflict on a key does (``on_conflict_do_nothing``, ``_do_update``)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def insert_new(conn: AsyncConnection, table: Table, **values: Any) -> bool:
    """Insert a row unless its key exists; whether it was new. The key
    decides, so two nodes racing for the same row cannot fail each other."""
    done = await conn.execute(upsert_into(conn, table).values(**values).on_conflict_do_nothing())
    return bool(done.rowcount)
