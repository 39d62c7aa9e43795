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
- ``BEGIN IMMEDIATE`` when another process holds the write lock (waiting
  for it up to the busy timeout); while none does, it runs on the loop.

Readers in WAL mode never wait for the writer, so their statements and
commits stay on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["InlineConnection"]

T = TypeVar("T")
_BEGIN_WRITING = "BEGIN IMMEDIATE"


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
    reader's commit ends a snapshot and writes nothing. ``busy_timeout_ms``:
    how long a statement waits for another process's lock."""

    def __init__(self, path: str, *, durable_commits: bool, busy_timeout_ms: int) -> None:
        # Used from the loop and, one call at a time, from a worker thread.
        self.sqlite = sqlite3.connect(
            path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
        self._busy_timeout_ms = busy_timeout_ms
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

    async def begin_writing(self) -> None:
        """``BEGIN IMMEDIATE``: at once while no other process holds the
        write lock (a thread hop saved on every write transaction), else on a
        worker thread, waiting for it up to the busy timeout."""
        try:
            self._begin_writing_unless_locked()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            await self._begin_writing_once_free()

    async def _begin_writing_once_free(self) -> None:
        """``BEGIN IMMEDIATE`` on a worker thread. A caller that goes away
        meanwhile (cancelled, even again) waits for the thread before the
        connection is used again, as one thread at a time may, and rolls
        back what it began."""
        began = asyncio.ensure_future(self.off_loop(self.sqlite.execute, _BEGIN_WRITING))
        try:
            await asyncio.shield(began)
        except asyncio.CancelledError:
            while not began.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([began])
            if self.sqlite.in_transaction:
                self.sqlite.rollback()
            raise

    def _begin_writing_unless_locked(self) -> None:
        self.sqlite.execute("PRAGMA busy_timeout = 0")
        try:
            self.sqlite.execute(_BEGIN_WRITING)
        finally:
            self.sqlite.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")

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
