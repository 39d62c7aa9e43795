"""Reads that many callers ask for at once, made together in one statement.

Each statement to PostgreSQL costs a round trip, a pooled connection and
the backend's own planning, start and end, whatever it reads. When 9,900
devices resume at once, each reading its session then its backlog, those
costs were half the node's core, which the database shares here
(``benchmarks/README.md``, issue 22, twenty-ninth and thirtieth sessions).
A caller alone is read at once, as before; while a read is under way,
those who ask meanwhile wait for the next, which reads them together,
``MOST_READ_TOGETHER`` at most (a read's rows are held at once). The
busier the node, the longer a read and the more it carries: a caller
waits for the read under way, then its own (unless more than
``MOST_READ_TOGETHER`` wait before it). On SQLite each caller reads
alone, in its own task: a statement costs no round trip there, many read
together held the loop one after another, and a read of one in a task of
its own cost the storm a third more CPU.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.hot import Autocommit, Hot, Params

__all__ = ["MOST_READ_TOGETHER", "Batched", "read_together", "rows_of_each"]

MOST_READ_TOGETHER = 256  # callers a read answers at most: the rows one fetch holds at once
A = TypeVar("A")
R = TypeVar("R")


class Batched(Generic[A, R]):
    """``await batched(asked)`` is ``read([asked, ...])``'s answer for
    ``asked``: ``read`` answers each of the asked, in their order. A read's
    failure reaches each of its callers."""

    def __init__(
        self, read: Callable[[list[A]], Awaitable[Sequence[R]]], most_together: int
    ) -> None:
        self._read = read
        self._most_together = most_together
        self._reading = False
        self._waiting: list[tuple[A, asyncio.Future[R]]] = []
        self._reads: set[asyncio.Task[None]] = set()  # kept until done (asyncio's advice)

    async def __call__(self, asked: A) -> R:
        if self._most_together == 1:  # nothing to read together: the caller reads, in its task
            return (await self._read([asked]))[0]
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((asked, answer))
        if not self._reading:
            self._start()
        return await answer

    def _start(self) -> None:
        together = self._most_together
        batch, self._waiting = self._waiting[:together], self._waiting[together:]
        self._reading = True
        read = asyncio.ensure_future(self._answer(batch))
        self._reads.add(read)
        read.add_done_callback(self._reads.discard)

    async def _answer(self, batch: list[tuple[A, asyncio.Future[R]]]) -> None:
        try:
            answers = await self._read([asked for asked, _ in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"{len(answers)} answers to {len(batch)} asked")
        except Exception as exc:
            for _, answer in batch:
                if not answer.done():  # a caller cancelled is no longer waiting
                    answer.set_exception(exc)
        else:
            for (_, answer), found in zip(batch, answers, strict=True):
                if not answer.done():
                    answer.set_result(found)
        finally:
            for _, answer in batch:  # the read itself was cancelled: so are its callers
                answer.cancel()
            self._reading = False
            if self._waiting:
                self._start()


def read_together(db: Database) -> int:
    """How many callers a ``Batched`` read of ``db`` answers at most."""
    return 1 if db.is_sqlite else MOST_READ_TOGETHER


async def rows_of_each(
    conn: AsyncConnection | Autocommit,
    one: Hot,
    many: Hot,
    asked: Sequence[Params],
    bound: Params | None = None,
) -> list[list[tuple[Any, ...]]]:
    """The rows of ``one`` for each parameters ``asked`` (with those
    ``bound`` for all): on SQLite a statement each, microseconds each; on
    PostgreSQL ``many`` once, a round trip for all, bound to the arrays of
    ``asked``'s values (``storage.hot.unnested``), its rows numbered ``n``
    in their first column."""
    common = dict(bound or {})
    if not asked:
        return []
    if conn.dialect.name == "sqlite":
        return [list(await one.rows(conn, common | dict(params))) for params in asked]
    arrays = {name: [params[name] for params in asked] for name in asked[0]}
    each: list[list[tuple[Any, ...]]] = [[] for _ in asked]
    for n, *row in await many.rows(conn, common | arrays):
        each[n - 1].append(tuple(row))
    return each
