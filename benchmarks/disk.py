"""``python -m benchmarks disk``: how long a durable commit waits for the disk.

Every send carehub acknowledges waits for its transaction's commit. On
SQLite (WAL, ``synchronous=FULL``: the server's ``SQLITE_PRAGMAS``) a
commit waits for the disk to flush the log, and the next transaction
cannot begin until it has. So the disk's slowest flushes hold every send
behind them: they put a floor under the tail latency that no server code
can lower (benchmarks/README.md, issue 22, twenty-third session).

This commits transactions at a steady ``--rate`` (open loop: commit *k* is
due at ``start + k / rate``; the group commit runs 250-500 a second at
1,000 messages/s), each inserting ``--rows`` rows of ``--payload-bytes``
(a message, its events), into a SQLite file in a temporary directory
under ``--dir``: put it on the disk the database will use. Reported: the
commits' latency and the stalls, commits slower than ``--stall-ms``.
Writes a JSON result to ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sqlite3
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

from benchmarks.report import machine
from benchmarks.stats import summarize
from storage.db import SQLITE_PRAGMAS

__all__ = ["main", "stalls"]

RESULTS = Path(__file__).resolve().parent / "results"
WORST = 10  # stalls listed one by one


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks disk", description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--rate", type=float, default=400.0, help="commits/s")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rows", type=int, default=4, help="rows inserted per commit")
    parser.add_argument("--payload-bytes", type=int, default=300)
    parser.add_argument("--stall-ms", type=float, default=25.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser


def commit_latencies(
    path: Path, rate: float, seconds: float, rows: int, payload_bytes: int
) -> tuple[array[int], array[int]]:
    """Each commit's latency and when it began after the first (µs)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in SQLITE_PRAGMAS:
            db.execute(f"PRAGMA {pragma}")
        db.execute("CREATE TABLE message (id INTEGER PRIMARY KEY, thread INTEGER, body BLOB)")
        db.execute("CREATE INDEX ix_message_thread ON message (thread, id)")
        latencies, starts = array("q"), array("q")
        start = time.perf_counter_ns()
        for k in range(int(rate * seconds)):
            ahead = start + int(k * 1e9 / rate) - time.perf_counter_ns()
            if ahead > 0:
                time.sleep(ahead / 1e9)
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO message (thread, body) VALUES (?, ?)",
                [(k % 50, os.urandom(payload_bytes)) for _ in range(rows)],
            )
            began = time.perf_counter_ns()
            db.execute("COMMIT")
            latencies.append((time.perf_counter_ns() - began) // 1000)
            starts.append((began - start) // 1000)
        return latencies, starts
    finally:
        db.close()


def stalls(latencies_us: array[int], starts_us: array[int], stall_ms: float) -> dict[str, Any]:
    """The commits slower than ``stall_ms``: how many, how often (over the
    time from the first commit to the end of the last), how long in all,
    and the ``WORST`` longest (when, in s from the start, and how long)."""
    seconds = (starts_us[-1] + latencies_us[-1]) / 1e6 if starts_us else 0.0
    found = [
        (start / 1e6, latency / 1000)
        for latency, start in zip(latencies_us, starts_us, strict=True)
        if latency > stall_ms * 1000
    ]
    return {
        "threshold_ms": stall_ms,
        "count": len(found),
        "per_minute": round(len(found) * 60 / seconds, 1) if seconds else 0.0,
        "stalled_ms": round(sum(ms for _, ms in found), 1),
        "worst": [[round(at, 2), round(ms, 1)] for at, ms in sorted(found, key=lambda s: -s[1])][
            :WORST
        ],
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="carehub-disk-", dir=args.dir) as work:
        latencies, starts = commit_latencies(
            Path(work) / "disk.db", args.rate, args.seconds, args.rows, args.payload_bytes
        )
    now = datetime.datetime.now(datetime.UTC)
    result = {
        "latency": summarize(latencies),
        "stalls": stalls(latencies, starts, args.stall_ms),
    }
    document = {
        "scenario": "disk",
        "date": now.isoformat(timespec="seconds"),
        "command": shlex.join(["python", "-m", "benchmarks", "disk", *argv]),
        "machine": machine(None, None),
        "options": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(args).items()
            if key != "out"
        },
        **result,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"disk-{now:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(document, indent=1))
    latency, stalled = result["latency"], result["stalls"]
    print(
        f"{latency['count']} commits: p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms,"
        f" p99.9 {latency['p99_9_ms']} ms, max {latency['max_ms']} ms"
    )
    print(
        f"{stalled['count']} over {args.stall_ms:g} ms ({stalled['per_minute']}/min,"
        f" {stalled['stalled_ms']} ms in all); longest [s, ms]: {stalled['worst']}"
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
