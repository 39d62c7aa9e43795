"""Garbage-collector settings for a server process.

A hub holds many long-lived objects (connections, cached statements, the
imported modules), and CPython's default thresholds run a collection every
700 allocations, so full collections walking all of them stall the event
loop for tens of milliseconds under fan-out load (p99 of a 1,000-member
thread at 16 msgs/s: 220 ms with the defaults, 48 ms with these; see
benchmarks/README.md). Objects alive at start-up are frozen out of the
collector's sight, and young collections run less often.
"""

import gc

__all__ = ["tune_gc"]

THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
