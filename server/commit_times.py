"""How long the writer waits for its commits, as a histogram ``/healthz``
reports.

A commit waits for the disk to flush the log (SQLite, ``synchronous=FULL``:
on a worker thread, then the event loop's turn to resume the writer) or
for the database to (PostgreSQL: a round trip), and every send of its
transaction, and of the transactions queued behind it, waits with it. A
disk whose flush now and then stalls for tens of milliseconds shows here
first, as commits past 25 ms; so would an event loop too busy to resume
the writer for that long (docs/operations.md, "Health"; ``python -m
benchmarks disk`` measures a disk alone).
"""

from __future__ import annotations

from bisect import bisect_left

__all__ = ["BOUNDS_MS", "CommitTimes"]

BOUNDS_MS = (1, 5, 25, 100)


class CommitTimes:
    """Commits counted by duration, cumulatively as a Prometheus
    histogram's buckets: ``le_5`` is every commit of at most 5 ms."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts = [0] * (len(BOUNDS_MS) + 1)  # the last: over the last bound

    def record(self, seconds: float) -> None:
        self._counts[bisect_left(BOUNDS_MS, seconds * 1000)] += 1

    def buckets(self) -> dict[str, int]:
        found: dict[str, int] = {}
        total = 0
        for bound, count in zip(BOUNDS_MS, self._counts, strict=False):
            total += count
            found[f"le_{bound}"] = total
        found["all"] = total + self._counts[-1]
        return found
