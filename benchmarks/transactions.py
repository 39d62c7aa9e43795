"""``python -m benchmarks.transactions``: what a write transaction costs the loop.

Starts a throwaway PostgreSQL (fsync on) and runs ``--count`` write
transactions in a row, one after another, each bumping one row with one or
two hot statements (``storage.hot``) inside ``storage.tx.write_tx``: each
with a connection from the pool, then as the group commit runs them
(``storage.db.ConsecutiveWrites``: one connection kept, its statements
planned once, as this UPDATE by key is anyway); then the same on
asyncpg alone (``async with conn.transaction()``), the floor; then
transactions of eight statements returning a row each (eight rows bumped,
as a batch's eight messages), run one after the other and pipelined in
one round trip (``Hot.rows_many``, as ``MessageTx.append_all``). Reported: the
process's CPU time per transaction (what the event loop cannot spend on
sockets meanwhile) and the wall time (mostly the commit's flush). Pin it
to a core (``taskset -c 0``). To measure other code with it (that has
``ConsecutiveWrites``), run this file by its path with that code first on
the path (``PYTHONPATH=<worktree> python benchmarks/transactions.py``):
``python -m`` would put the current directory first.

With ``--sqlite``, on a SQLite file in a temporary directory (WAL,
``synchronous=FULL``, as the server): ``write_tx`` as the group commit runs
it, with one, two and a hundred hot statements, then ``sqlite3`` alone
(``BEGIN IMMEDIATE`` and the statements on the loop, the commit's fsync on
a worker thread), the floor: the hundred tell what a hot statement costs
beyond ``sqlite3``'s own call; then a hundred reads of a value
(``Hot.scalar``).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import uvloop
from sqlalchemy import Integer, bindparam, column, select, table, text, update

from storage import Store
from storage.db import ConsecutiveWrites, Database
from storage.hot import Hot
from storage.tx import write_tx

_ROW = table("bench_row", column("id", Integer), column("v", Integer))
_BUMP = Hot(update(_ROW).where(_ROW.c.id == bindparam("row")).values(v=_ROW.c.v + 1))
_RAW_BUMP = "UPDATE bench_row SET v = v + 1 WHERE id = $1"
_BUMPED = Hot(
    update(_ROW).where(_ROW.c.id == bindparam("row")).values(v=_ROW.c.v + 1).returning(_ROW.c.v)
)
_READ = Hot(select(_ROW.c.v).where(_ROW.c.id == bindparam("row")))
_EIGHT = [{"row": n} for n in range(1, 9)]
_SQLITE_STATEMENTS = (1, 2, 100)  # a transaction's, each measure
Transaction = Callable[[], Awaitable[None]]


async def _timed(label: str, count: int, transaction: Transaction) -> None:
    for _ in range(count // 10):  # warm: statements prepared, pool filled
        await transaction()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        await transaction()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{label:34s} cpu {1e6 * cpu / count:5.0f} µs  wall {1e6 * wall / count:5.0f} µs")


def _bumping(source: Database | ConsecutiveWrites, statements: int) -> Transaction:
    async def transaction() -> None:
        async with write_tx(source) as tx:
            for _ in range(statements):
                await _BUMP.run(tx.connection, {"row": 1})

    return transaction


def _reading(source: ConsecutiveWrites, statements: int) -> Transaction:
    async def transaction() -> None:
        async with write_tx(source) as tx:
            for _ in range(statements):
                await _READ.scalar(tx.connection, {"row": 1})

    return transaction


def _eight_rows(source: ConsecutiveWrites, *, together: bool) -> Transaction:
    async def transaction() -> None:
        async with write_tx(source) as tx:
            if together:
                assert len(await _BUMPED.rows_many(tx.connection, _EIGHT)) == len(_EIGHT)
                return
            for row in _EIGHT:
                assert await _BUMPED.first(tx.connection, row) is not None

    return transaction


async def _measure(url: str, count: int) -> None:
    store = Store(url)
    consecutive = ConsecutiveWrites(store.db)
    raw = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await raw.execute("CREATE TABLE bench_row (id int PRIMARY KEY, v int)")
        await raw.execute("INSERT INTO bench_row SELECT n, 0 FROM generate_series(1, 8) n")
        for statements in (1, 2):

            async def driver(statements: int = statements) -> None:
                async with raw.transaction():
                    for _ in range(statements):
                        await raw.execute(_RAW_BUMP, 1)

            pooled, kept = _bumping(store.db, statements), _bumping(consecutive, statements)
            await _timed(f"write_tx, {statements} hot, pooled", count, pooled)
            await _timed(f"write_tx, {statements} hot, kept", count, kept)
            await _timed(f"asyncpg alone, {statements} statement(s)", count, driver)
        await _timed("8 rows, one after the other", count, _eight_rows(consecutive, together=False))
        await _timed("8 rows, pipelined", count, _eight_rows(consecutive, together=True))
        bumps = (count + count // 10) * (1 + 1 + 1 + 2 + 2 + 2 + 8 + 8)  # warm-up included
        async with store.db.write() as conn:  # every transaction committed
            assert await conn.scalar(text("SELECT sum(v) FROM bench_row")) == bumps
    finally:
        await consecutive.close()
        await raw.close()
        await store.close()


async def _measure_sqlite(path: Path, count: int) -> None:
    store = Store(f"sqlite+aiosqlite:///{path}")
    consecutive = ConsecutiveWrites(store.db)
    async with store.db.write() as conn:
        await conn.execute(text("CREATE TABLE bench_row (id INTEGER PRIMARY KEY, v INTEGER)"))
        await conn.execute(text("INSERT INTO bench_row VALUES (1, 0)"))
    raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    raw.execute("PRAGMA synchronous=FULL")
    loop = asyncio.get_running_loop()
    try:
        for statements in _SQLITE_STATEMENTS:

            async def driver(statements: int = statements) -> None:
                raw.execute("BEGIN IMMEDIATE")
                for _ in range(statements):
                    raw.execute("UPDATE bench_row SET v = v + 1 WHERE id = ?", (1,))
                await loop.run_in_executor(None, raw.commit)

            await _timed(f"write_tx, {statements} hot", count, _bumping(consecutive, statements))
            await _timed(f"sqlite3 alone, {statements} statement(s)", count, driver)
        reads = _SQLITE_STATEMENTS[-1]
        await _timed(f"write_tx, {reads} hot reads", count, _reading(consecutive, reads))
        bumps = (count + count // 10) * 2 * sum(_SQLITE_STATEMENTS)  # warm-up included
        async with store.db.write() as conn:  # every transaction committed
            assert await conn.scalar(text("SELECT sum(v) FROM bench_row")) == bumps
    finally:
        raw.close()
        await consecutive.close()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transactions", description=__doc__)
    parser.add_argument("--count", type=int, default=3000, help="transactions per measure")
    parser.add_argument("--sqlite", action="store_true", help="on SQLite instead of PostgreSQL")
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory(prefix="carehub-bench-") as work:
            uvloop.run(_measure_sqlite(Path(work) / "bench.db", args.count))
        return
    from tests.support.postgres import PostgresServer

    postgres = PostgresServer(durable=True).start()
    try:
        uvloop.run(_measure(postgres.url, args.count))
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
