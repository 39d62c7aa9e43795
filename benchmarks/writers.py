"""``python -m benchmarks.writers``: one node's writer against two, on one PostgreSQL.

Starts a throwaway PostgreSQL (fsync on) and, for each count in ``--nodes``,
runs that many writer processes at once for ``--seconds``, as nodes would:
each its own ``server.writer.Writer`` (group commit) and connection pool,
with ``--concurrency`` callers submitting, one after another, an operation
that writes as a send does on a thread of its own: it bumps its own row
(the thread's counter) and emits one durable event. Nothing else runs: this
is the write path alone, without sockets or Redis.

Reported per node count: operations and commits per second (all nodes
together), and the callers' latency. With a lock every write of the
deployment takes (the stream's head, before issue 18), every batch of every
node waits for the one before it: the deployment commits at most one batch
per transaction time, whatever the number of nodes. Run it on the code
before and after (``PYTHONPATH=<worktree>``) to compare.

Writes a JSON result to ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from benchmarks.report import machine
from benchmarks.stats import summarize
from protocol.codec import to_raw
from server.clock import Clock
from server.writer import Outgoing, Writer
from storage import Store
from storage.schema import stream_positions

RESULTS = Path(__file__).resolve().parent / "results"


def _row(node: int, caller: int) -> str:
    return f"bench-{node}-{caller}"


async def _prepare(url: str, nodes: int, concurrency: int) -> None:
    store = Store(url)
    await store.db.migrate()
    async with store.db.write() as conn:
        await conn.execute(text("DELETE FROM stream_positions WHERE name LIKE 'bench-%'"))
        rows = [{"name": _row(n, c), "value": 0} for n in range(nodes) for c in range(concurrency)]
        await conn.execute(insert(stream_positions), rows)
    await store.close()


async def _node(url: str, node: int, concurrency: int, seconds: float) -> dict[str, Any]:
    store = Store(url)

    async def nowhere(_delivery: Any) -> None:
        return None

    writer = Writer(store.db, nowhere, Clock())
    writer.start()
    latencies: list[int] = []  # microseconds
    deadline = time.monotonic() + seconds

    async def caller(index: int) -> None:
        name = _row(node, index)
        bump = (
            update(stream_positions)
            .where(stream_positions.c.name == name)
            .values(value=stream_positions.c.value + 1)
        )

        async def send_like(conn: AsyncConnection, out: list[Outgoing]) -> None:
            await conn.execute(bump)
            out.append(Outgoing("receipt", to_raw({"n": index}), [index], user_id=index))

        while time.monotonic() < deadline:
            started = time.perf_counter()
            await writer.run(send_like)
            latencies.append(int((time.perf_counter() - started) * 1_000_000))

    await asyncio.gather(*(caller(i) for i in range(concurrency)))
    commits = writer.commits
    await writer.stop()
    await store.close()
    return {"operations": len(latencies), "commits": commits, "latency_us": latencies}


def _run_node(url: str, node: int, concurrency: int, seconds: float, out: Any) -> None:
    out.put(asyncio.run(_node(url, node, concurrency, seconds)))


def _measure(url: str, nodes: int, concurrency: int, seconds: float) -> dict[str, Any]:
    asyncio.run(_prepare(url, nodes, concurrency))
    results: Any = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=_run_node, args=(url, n, concurrency, seconds, results))
        for n in range(nodes)
    ]
    for process in processes:
        process.start()
    per_node = [results.get() for _ in processes]
    for process in processes:
        process.join()
    latencies = [us for result in per_node for us in result["latency_us"]]
    operations = sum(result["operations"] for result in per_node)
    commits = sum(result["commits"] for result in per_node)
    return {
        "nodes": nodes,
        "operations_per_s": round(operations / seconds, 1),
        "commits_per_s": round(commits / seconds, 1),
        "operations_per_commit": round(operations / max(commits, 1), 1),
        **summarize(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.writers", description=__doc__)
    parser.add_argument("--nodes", default="1,2", help="node counts to run, in turn")
    parser.add_argument("--concurrency", type=int, default=32, help="callers per node")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--label", default="", help="a name for the code measured")
    args = parser.parse_args()
    from tests.support.postgres import PostgresServer

    postgres = PostgresServer(durable=True).start()
    try:
        steps = [
            _measure(postgres.url, int(n), args.concurrency, args.seconds)
            for n in args.nodes.split(",")
        ]
    finally:
        postgres.stop()
    for step in steps:
        print(
            f"{args.label or 'writers'} nodes {step['nodes']}: {step['operations_per_s']} ops/s,"
            f" {step['commits_per_s']} commits/s ({step['operations_per_commit']} per commit),"
            f" p50 {step['p50_ms']} ms, p99 {step['p99_ms']} ms"
        )
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    result = {
        "scenario": "writers",
        "label": args.label,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.writers " + " ".join(sys.argv[1:]),
        "machine": machine(None, None),
        "steps": steps,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"writers-{args.label or 'run'}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
