"""Wall-clock time in milliseconds, injectable for tests."""

from __future__ import annotations

import time

__all__ = ["Clock"]


class Clock:
    def ms(self) -> int:
        return time.time_ns() // 1_000_000
