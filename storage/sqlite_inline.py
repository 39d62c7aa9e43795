"""SQLite without a thread per statement.

aiosqlite runs every call (a cursor, an execute, a fetch, a close) on the
connection's own thread and wakes the event loop for each result: four
hops per statement, and the two threads trading the GIL. A statement of
ours reads or writes a few pages already in SQLite's cache and takes
microseconds, far less than the hop. So this connection, shaped like
aiosqlite's for SQLAlchemy's adapter (``async_creator``), runs statements
on the event loop's own thread. What can wait goes to a worker thread:

- ``COMMIT`` of a connection that writes (the fsync that makes a message
  durable: the loop serves the other sockets meanwhile);
- ``BEGIN IMMEDIATE`` (another process may hold the write lock, for up to
  the busy timeout).

Readers in WAL mode never wait for the writer, so their statements and
commits stay on the loop.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["InlineConnection"]

T = TypeVar("T")
_WAITS = "BEGIN IMMEDIATE"


class InlineCursor:
    """A ``sqlite3.Cursor`` with the coroutine methods of aiosqlite's that
    SQLAlchemy's adapter calls (its cursors read every row at once)."""

    __slots__ = ("_connection", "_cursor")

    def __init__(self, connection: InlineConnection) -> None:
        self._connection = connection
        self._cursor = connection.sqlite.cursor()

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        if sql.startswith(_WAITS):
            await self._connection.off_loop(self._cursor.execute, sql, parameters)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """A ``sqlite3.Connection`` in autocommit mode (``BEGIN`` is issued by
    the engine), shaped like ``aiosqlite.Connection`` for SQLAlchemy.
    ``durable_commits``: commit on a worker thread (the writer's); a
    reader's commit ends a snapshot and writes nothing."""

    def __init__(self, path: str, *, durable_commits: bool) -> None:
        # Used from the loop and, one call at a time, from a worker thread.
        self.sqlite = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._durable_commits = durable_commits
        self._open = True

    @property
    def _connection(self) -> sqlite3.Connection | None:
        """What SQLAlchemy's adapter checks before a commit or rollback
        (aiosqlite's name): the connection, or None once closed."""
        return self.sqlite if self._open else None

    async def off_loop(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(None, call, *args)

    def cursor(self) -> InlineCursor:
        return InlineCursor(self)

    async def commit(self) -> None:
        if self._durable_commits and self.sqlite.in_transaction:
            await self.off_loop(self.sqlite.commit)
        else:
            self.sqlite.commit()

    async def rollback(self) -> None:
        self.sqlite.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        self._open = False
        self.sqlite.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.sqlite.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self.sqlite.isolation_level
