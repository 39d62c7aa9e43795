"""Rate limits: token buckets of ``rate`` tokens a second with at most
``burst`` saved up, named by what they limit (``calls:{device}``,
``sends:{device}``, ``login:{username}``).

A bucket is shared by everything that spends from it: a device's sockets
(it cannot multiply its rate by opening more) and, with the Redis broker,
every node (it cannot multiply it by opening them on several nodes). Buckets
outlive reconnects.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import monotonic
from typing import Protocol

__all__ = ["Charge", "Limit", "Limiter", "LocalLimiter", "TokenBucket"]


@dataclass(frozen=True, slots=True)
class Limit:
    rate: float  # tokens a second
    burst: int  # tokens saved up at most


Charge = tuple[str, Limit]  # one token from the named bucket


class Limiter(Protocol):
    async def take(self, *charges: Charge) -> float:
        """Spend one token of every named bucket, all or none: 0 on success,
        else the seconds until all of them would have one."""


class TokenBucket:
    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = now

    def wait(self, now: float, cost: float = 1.0) -> float:
        """The seconds until ``cost`` tokens are saved up (0: they are)."""
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        return max(0.0, (cost - self._tokens) / self.rate)

    def take(self, now: float, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens. Returns 0 on success, else the seconds to wait."""
        wait = self.wait(now, cost)
        if not wait:
            self._tokens -= cost
        return wait


class LocalLimiter:
    """This process's buckets, the least recently used forgotten past ``max_keys``."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._max = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    async def take(self, *charges: Charge) -> float:
        return self.take_now(monotonic(), *charges)

    def take_now(self, now: float, *charges: Charge) -> float:
        buckets = [self._bucket(name, limit, now) for name, limit in charges]
        wait = max(bucket.wait(now) for bucket in buckets)
        if not wait:
            for bucket in buckets:
                bucket.take(now)
        return wait

    def _bucket(self, name: str, limit: Limit, now: float) -> TokenBucket:
        found = self._buckets.pop(name, None)
        if found is None:
            if len(self._buckets) >= self._max:
                del self._buckets[next(iter(self._buckets))]
            found = TokenBucket(limit.rate, limit.burst, now)
        self._buckets[name] = found  # most recently used last
        return found
