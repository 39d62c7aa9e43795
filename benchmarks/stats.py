"""Latency summaries over raw samples.

Samples are kept whole (microseconds, one ``array('q')`` per step) rather
than bucketed: a step holds at most a few million of them, sorting that is a
second, and exact tails are worth it.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable

__all__ = ["PERCENTILES", "merge", "summarize"]

PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0, "p99_9": 99.9}


def merge(chunks: Iterable[bytes]) -> array[int]:
    """One sample array from the ``array('q').tobytes()`` chunks of many workers."""
    samples = array("q")
    for chunk in chunks:
        samples.frombytes(chunk)
    return samples


def summarize(samples_us: Iterable[int]) -> dict[str, float | int]:
    """Count, nearest-rank percentiles, mean and max, in milliseconds."""
    ordered = sorted(samples_us)
    count = len(ordered)
    if not count:
        return {"count": 0}
    summary: dict[str, float | int] = {"count": count}
    for name, percent in PERCENTILES.items():
        rank = max(1, math.ceil(percent / 100 * count))
        summary[f"{name}_ms"] = round(ordered[rank - 1] / 1000, 3)
    summary["mean_ms"] = round(sum(ordered) / count / 1000, 3)
    summary["max_ms"] = round(ordered[-1] / 1000, 3)
    return summary
