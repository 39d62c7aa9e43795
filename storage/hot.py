"""Hot statements: compiled once, run on SQLite without SQLAlchemy's execution.

On SQLite a statement of ours reads or writes a few cached pages in a few
microseconds. Executing it through SQLAlchemy, even prebuilt, costs several
times that: an execution context, parameters built by name, a cursor
adapter, a result object and a greenlet switch, a quarter of the server's
time in the chat benchmark (``benchmarks/README.md``, issue 22). A ``Hot``
statement is compiled once; on SQLite it runs straight on the transaction's
``sqlite3`` connection (``storage.sqlite_inline``), with SQLAlchemy's own
type conversions and error classes, so callers see the same rows and the
same exceptions either way. On PostgreSQL it runs through SQLAlchemy, whose
asyncpg adapter owns the transaction and the prepared statements, and where
the round trip to the server costs more than the machinery.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Dialect, Table, bindparam, insert
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert

from storage.sqlite_inline import InlineConnection

__all__ = ["Hot", "insert_of"]

Params = Mapping[str, Any]
_Convert = Callable[[Any], Any]


class _Compiled:
    """A statement as SQLite runs it: its SQL, its parameters in order with
    their conversions, and the conversions of its result's columns."""

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
        values = [params[name] if name in params else self.literals[name] for name in self.names]
        for index, convert in self.binds:
            values[index] = convert(values[index])
        return values

    def row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        if not self.results:
            return row
        values = list(row)
        for index, convert in self.results:
            values[index] = convert(values[index])
        return tuple(values)

    def failed(self, exc: sqlite3.Error, values: Any) -> StatementError:
        """The error SQLAlchemy would have raised: ``IntegrityError`` for a
        broken constraint, ``OperationalError`` for a failing database."""
        return DBAPIError.instance(self.sql, values, exc, sqlite3.Error, dialect=self.dialect)


def _converter(kind: Any, dialect: Dialect, *, bind: bool) -> _Convert | None:
    impl = kind.dialect_impl(dialect)
    convert: _Convert | None = (
        impl.bind_processor(dialect) if bind else impl.result_processor(dialect, None)
    )
    return convert


def _sqlite(conn: AsyncConnection) -> sqlite3.Connection | None:
    """The ``sqlite3`` connection under ``conn``, or None on PostgreSQL."""
    driver = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
    return driver.sqlite if isinstance(driver, InlineConnection) else None


class Hot:
    """A statement built once and run often (its parameters all bound by
    name: ``bindparam``). Rows come back as tuples."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: _Compiled | None = None

    def _for(self, conn: AsyncConnection) -> _Compiled:
        if self._compiled is None:
            self._compiled = _Compiled(self.statement, conn.dialect)
        return self._compiled

    async def rows(self, conn: AsyncConnection, params: Params) -> Sequence[tuple[Any, ...]]:
        """Every row the statement returns."""
        sqlite = _sqlite(conn)
        if sqlite is None:
            return [tuple(row) for row in await conn.execute(self.statement, params)]
        compiled = self._for(conn)
        values = compiled.parameters(params)
        try:
            rows = sqlite.execute(compiled.sql, values).fetchall()
        except sqlite3.Error as exc:
            raise compiled.failed(exc, values) from exc
        return [compiled.row(row) for row in rows]

    async def first(self, conn: AsyncConnection, params: Params) -> tuple[Any, ...] | None:
        rows = await self.rows(conn, params)
        return rows[0] if rows else None

    async def scalar(self, conn: AsyncConnection, params: Params) -> Any:
        """The first column of the first row, or None without a row."""
        row = await self.first(conn, params)
        return None if row is None else row[0]

    async def run(self, conn: AsyncConnection, params: Params) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        sqlite = _sqlite(conn)
        if sqlite is None:
            return (await conn.execute(self.statement, params)).rowcount
        compiled = self._for(conn)
        values = compiled.parameters(params)
        try:
            return sqlite.execute(compiled.sql, values).rowcount
        except sqlite3.Error as exc:
            raise compiled.failed(exc, values) from exc

    async def run_many(self, conn: AsyncConnection, params: Sequence[Params]) -> None:
        """Run the statement once per parameter set (``executemany``)."""
        sqlite = _sqlite(conn)
        if sqlite is None:
            await conn.execute(self.statement, list(params))
            return
        compiled = self._for(conn)
        values = [compiled.parameters(each) for each in params]
        try:
            sqlite.executemany(compiled.sql, values)
        except sqlite3.Error as exc:
            raise compiled.failed(exc, values) from exc


def insert_of(table: Table, *names: str) -> Insert:
    """An INSERT of exactly these columns, each bound by its own name (a
    column left out with a default in the schema is bound too: give it)."""
    return insert(table).values({name: bindparam(name) for name in names})
