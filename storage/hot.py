"""Hot statements: compiled once, run on the driver without SQLAlchemy's execution.

On SQLite a statement of ours reads or writes a few cached pages in a few
microseconds. Executing it through SQLAlchemy, even prebuilt, costs several
times that: an execution context, parameters built by name, a cursor
adapter, a result object and a greenlet switch, a quarter of the server's
time in the chat benchmark (``benchmarks/README.md``, issue 22). A ``Hot``
statement is compiled once per dialect and runs straight on the
transaction's driver connection: ``sqlite3`` (``storage.sqlite_inline``) or
asyncpg, with SQLAlchemy's own type conversions and error classes, so
callers see the same rows and the same exceptions either way.

On PostgreSQL, SQLAlchemy's asyncpg adapter begins the transaction with its
first statement. A hot statement that comes first begins it itself, straight
on asyncpg (the adapter's own BEGIN, so SQLAlchemy then finds it begun and
commits it): through SQLAlchemy, that first statement cost about 100 µs more
of the loop's time, in a transaction of about 380 µs where the driver alone
spends 60 (``benchmarks/README.md``, issue 22, ninth session). Only on a
connection outside any transaction of SQLAlchemy's does a hot statement run
through SQLAlchemy, which begins one.

A read of one statement needs no transaction around it: on SQLite it runs
on an ``Autocommit`` connection, kept open, where the statement is its own
snapshot, without a pool checkout, a BEGIN and a COMMIT (each a greenlet
switch through SQLAlchemy's async layer) around a few microseconds of work.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from sqlalchemy import Dialect, Table, bindparam, column, func, insert
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

from storage.sqlite_inline import InlineConnection

__all__ = ["Autocommit", "Hot", "adapter_of", "insert_of", "sqlite_changes", "unnested"]

Params = Mapping[str, Any]
_Convert = Callable[[Any], Any]


class _Compiled:
    """A statement as the driver runs it: its SQL, its parameters in order
    with their conversions, and the conversions of its result's columns."""

    __slots__ = ("binds", "dialect", "literals", "names", "results", "sql")

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler) and compiled.positiontup is not None
        if compiled.insert_prefetch or compiled.update_prefetch:  # Python-side defaults
            missing = [c.key for c in [*compiled.insert_prefetch, *compiled.update_prefetch]]
            raise ValueError(f"a hot statement runs no column defaults: bind {missing}")
        self.sql, self.names, self.dialect = compiled.string, tuple(compiled.positiontup), dialect
        self.literals = {  # the values written in the statement (``last_seq + 1``)
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        self.binds = [
            (index, convert)
            for index, name in enumerate(self.names)
            if (convert := _converter(compiled.binds[name].type, dialect, bind=True))
        ]
        columns = getattr(statement, "exported_columns", ())
        self.results = [
            (index, convert)
            for index, column in enumerate(columns)
            if (convert := _converter(column.type, dialect, bind=False))
        ]

    def parameters(self, params: Params) -> list[Any]:
        if self.literals:  # rare (``last_seq + 1``): most statements skip the check
            values = [params[n] if n in params else self.literals[n] for n in self.names]
        else:
            values = [params[name] for name in self.names]
        for index, convert in self.binds:
            values[index] = convert(values[index])
        return values

    def converted(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The driver's rows with SQLAlchemy's conversions of their columns
        (the same list when none converts: most statements' rows)."""
        return [self._row(row) for row in rows] if self.results else rows

    def _row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for index, convert in self.results:
            values[index] = convert(values[index])
        return tuple(values)

    def fail(self, driver: _Driver, exc: Exception, values: Any) -> NoReturn:
        _fail(self.sql, values, driver, exc, self.dialect)


def _fail(sql: str, values: Any, driver: _Driver, exc: Exception, dialect: Dialect) -> NoReturn:
    """Raise the error SQLAlchemy would have: ``IntegrityError`` for a
    broken constraint, ``OperationalError`` for a failing database, the
    driver's SQLSTATE kept (a lost deadlock is told apart by it), and
    marked ``connection_invalidated`` when the connection was lost."""
    orig = driver.dbapi_error(exc)
    if orig is None:
        raise exc
    base = dialect.loaded_dbapi.Error
    raise DBAPIError.instance(
        sql, values, orig, base, connection_invalidated=driver.lost(), dialect=dialect
    ) from exc


def _converter(kind: Any, dialect: Dialect, *, bind: bool) -> _Convert | None:
    impl = kind.dialect_impl(dialect)
    convert: _Convert | None = (
        impl.bind_processor(dialect) if bind else impl.result_processor(dialect, None)
    )
    return convert


class _SQLite:
    """A ``sqlite3`` connection, whose calls return at once (on the loop)."""

    __slots__ = ("connection",)
    dialect_name = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    async def fetch(self, sql: str, values: list[Any]) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, values).fetchall()

    async def execute(self, sql: str, values: list[Any]) -> int:
        return self.connection.execute(sql, values).rowcount

    async def executemany(self, sql: str, values: list[list[Any]]) -> None:
        self.connection.executemany(sql, values)

    def insert(self, sql: str, values: list[Any]) -> int:
        """Run an INSERT of one row; its rowid. ``lastrowid`` is the
        connection's last: an insert that wrote no row would give an older one."""
        cursor = self.connection.execute(sql, values)
        if cursor.rowcount != 1 or cursor.lastrowid is None:
            raise RuntimeError(f"an insert of one row wrote {cursor.rowcount}")
        return cursor.lastrowid

    async def fetchmany(self, sql: str, values: list[list[Any]]) -> list[tuple[Any, ...]]:
        return [row for each in values for row in self.connection.execute(sql, each)]

    def dbapi_error(self, exc: Exception) -> Exception | None:
        return exc if isinstance(exc, sqlite3.Error) else None

    def lost(self) -> bool:
        """A file the process holds open is not lost as a server is."""
        return False


class _Asyncpg:
    """An asyncpg connection inside the transaction SQLAlchemy's adapter
    began (or in autocommit, where each statement is its own)."""

    __slots__ = ("adapter", "connection")
    dialect_name = "postgresql"

    def __init__(self, adapter: Any) -> None:
        self.adapter, self.connection = adapter, adapter.driver_connection

    async def fetch(self, sql: str, values: list[Any]) -> list[tuple[Any, ...]]:
        return [tuple(record) for record in await self.connection.fetch(sql, *values)]

    async def execute(self, sql: str, values: list[Any]) -> int:
        status: str = await self.connection.execute(sql, *values)  # "UPDATE 2", "INSERT 0 1"
        return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else -1

    async def executemany(self, sql: str, values: list[list[Any]]) -> None:
        await self.connection.executemany(sql, values)

    async def fetchmany(self, sql: str, values: list[list[Any]]) -> list[tuple[Any, ...]]:
        """Every run's rows, the runs pipelined: one round trip for all."""
        return [tuple(record) for record in await self.connection.fetchmany(sql, values)]

    def lost(self) -> bool:
        """The server closed the connection (the pool replaces it at its
        next checkout: ``storage.db``)."""
        return bool(self.connection.is_closed())

    def dbapi_error(self, exc: Exception) -> Exception | None:
        """asyncpg's error as the adapter's DBAPI error (with its SQLSTATE)."""
        try:
            self.adapter._handle_exception(exc)  # raises the translated error
        except self.adapter.dbapi.Error as translated:
            return translated  # type: ignore[no-any-return]
        except Exception:  # not a database error (a bug of ours): itself
            return None
        return None


_Driver = _SQLite | _Asyncpg


class Autocommit:
    """A ``sqlite3`` connection kept for reads of one statement each, in
    autocommit mode: each statement reads its own snapshot, ended once its
    rows are fetched. Its calls return at once on the loop, so one
    connection serves every caller in turn. It cannot write."""

    __slots__ = ("dialect", "driver")

    def __init__(self, path: str, dialect: Dialect, busy_timeout_ms: int) -> None:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        connection.execute("PRAGMA query_only=ON")
        self.driver, self.dialect = _SQLite(connection), dialect

    def close(self) -> None:
        self.driver.connection.close()


def adapter_of(conn: AsyncConnection) -> Any:
    """SQLAlchemy's adapter of the driver connection under ``conn``."""
    return conn.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]


def sqlite_changes(conn: AsyncConnection) -> int | None:
    """How many rows the SQLite connection under ``conn`` has written since
    it opened (every insert, update and delete, a trigger's too): equal at
    two moments, nothing was written between. None on PostgreSQL."""
    driver = adapter_of(conn).driver_connection
    return driver.sqlite.total_changes if isinstance(driver, InlineConnection) else None


def _driver(conn: AsyncConnection) -> _Driver | None:
    """The driver connection under ``conn`` to run on directly, in the
    transaction SQLAlchemy began or in autocommit; None if the driver's
    transaction has not begun (``_begun``)."""
    adapter = adapter_of(conn)
    driver = adapter.driver_connection
    if isinstance(driver, InlineConnection):
        return _SQLite(driver.sqlite)
    begun = adapter._transaction is not None or adapter.autocommit
    return _Asyncpg(adapter) if begun else None


async def _begun(conn: AsyncConnection) -> _Driver | None:
    """PostgreSQL before the transaction's first statement: the adapter's
    BEGIN sent straight on asyncpg, and its driver connection; None to run
    through SQLAlchemy (a connection outside any transaction of its own)."""
    if not conn.in_transaction():
        return None
    adapter = adapter_of(conn)
    try:
        await adapter._start_transaction()  # a no-op on an autocommit connection
    except BaseException as exc:
        # asyncpg may keep a transaction it began half (cancelled before
        # BEGIN's answer): the pool must not hand that connection out again.
        await conn.invalidate()
        if isinstance(exc, Exception):
            _fail("BEGIN", (), _Asyncpg(adapter), exc, conn.dialect)
        raise
    return _Asyncpg(adapter)


class Hot:
    """A statement built once and run often (its parameters all bound by
    name: ``bindparam``). Rows come back as tuples."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}  # by dialect

    def _for(self, driver: _Driver, conn: AsyncConnection | Autocommit) -> _Compiled:
        """Compiled for the driver's dialect, which the driver names
        (``conn.dialect`` is a lookup through SQLAlchemy's proxy)."""
        compiled = self._compiled.get(driver.dialect_name)
        if compiled is None:
            compiled = self._compiled[driver.dialect_name] = _Compiled(self.statement, conn.dialect)
        return compiled

    async def rows(
        self, conn: AsyncConnection | Autocommit, params: Params
    ) -> Sequence[tuple[Any, ...]]:
        """Every row the statement returns."""
        driver = (
            conn.driver if isinstance(conn, Autocommit) else _driver(conn) or await _begun(conn)
        )
        if driver is None:
            assert isinstance(conn, AsyncConnection)
            return [tuple(row) for row in await conn.execute(self.statement, params)]
        compiled = self._for(driver, conn)
        values = compiled.parameters(params)
        try:
            rows = await driver.fetch(compiled.sql, values)
        except Exception as exc:
            compiled.fail(driver, exc, values)
        return compiled.converted(rows)

    async def first(
        self, conn: AsyncConnection | Autocommit, params: Params
    ) -> tuple[Any, ...] | None:
        rows = await self.rows(conn, params)
        return rows[0] if rows else None

    async def scalar(self, conn: AsyncConnection | Autocommit, params: Params) -> Any:
        """The first column of the first row, or None without a row."""
        rows = await self.rows(conn, params)  # not through ``first``: a coroutine less
        return rows[0][0] if rows else None

    async def run(self, conn: AsyncConnection, params: Params) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        driver = _driver(conn) or await _begun(conn)
        if driver is None:
            return (await conn.execute(self.statement, params)).rowcount
        compiled = self._for(driver, conn)
        values = compiled.parameters(params)
        try:
            return await driver.execute(compiled.sql, values)
        except Exception as exc:
            compiled.fail(driver, exc, values)

    async def rowid(self, conn: AsyncConnection, params: Params) -> int:
        """SQLite: run an INSERT of exactly one row and return its rowid,
        without a RETURNING clause, whose rows SQLite (since 3.35) first
        gathers in a table of their own: 4.5 µs of a message's 10.7-µs
        insert on 3.40 (``benchmarks/README.md``, issue 22, twenty-fifth
        session)."""
        driver = _driver(conn)
        if not isinstance(driver, _SQLite):
            raise TypeError("a rowid is SQLite's: return the id from the statement")
        compiled = self._for(driver, conn)
        values = compiled.parameters(params)
        try:
            return driver.insert(compiled.sql, values)
        except Exception as exc:
            compiled.fail(driver, exc, values)

    async def rows_many(
        self, conn: AsyncConnection, params: Sequence[Params]
    ) -> Sequence[tuple[Any, ...]]:
        """The rows of the statement run once per parameter set, in turn, in
        one round trip on PostgreSQL (asyncpg's ``fetchmany``): every run's
        rows, one run's after the other's."""
        driver = _driver(conn) or await _begun(conn)
        if driver is None:
            return [
                tuple(row) for each in params for row in await conn.execute(self.statement, each)
            ]
        compiled = self._for(driver, conn)
        values = [compiled.parameters(each) for each in params]
        try:
            rows = await driver.fetchmany(compiled.sql, values)
        except Exception as exc:
            compiled.fail(driver, exc, values)
        return compiled.converted(rows)

    async def run_many(self, conn: AsyncConnection, params: Sequence[Params]) -> None:
        """Run the statement once per parameter set (``executemany``)."""
        driver = _driver(conn) or await _begun(conn)
        if driver is None:
            await conn.execute(self.statement, list(params))
            return
        compiled = self._for(driver, conn)
        values = [compiled.parameters(each) for each in params]
        try:
            await driver.executemany(compiled.sql, values)
        except Exception as exc:
            compiled.fail(driver, exc, values)


def unnested(columns: Mapping[str, TypeEngine[Any]]) -> TableValuedAlias:
    """PostgreSQL: many rows in one statement, a parameter per column (an
    array of each row's value, bound by the column's name), unnested into
    the table ``asked``, its rows numbered ``n`` in their order."""
    arrays = (bindparam(name, type_=ARRAY(kind)) for name, kind in columns.items())
    table = func.unnest(*arrays).table_valued(
        *(column(name, kind) for name, kind in columns.items()), with_ordinality="n"
    )
    return table.render_derived(name="asked")


def insert_of(table: Table, *names: str) -> Insert:
    """An INSERT of exactly these columns, each bound by its own name (a
    column left out with a default in the schema is bound too: give it)."""
    return insert(table).values({name: bindparam(name) for name in names})
