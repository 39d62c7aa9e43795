"""Token buckets: ``rate`` tokens a second, at most ``burst`` saved up."""

from __future__ import annotations

__all__ = ["DeviceLimits", "TokenBucket"]


class TokenBucket:
    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = now

    def take(self, now: float, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens. Returns 0 on success, else the seconds to wait."""
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= cost:
            self._tokens -= cost
            return 0.0
        return (cost - self._tokens) / self.rate


class DeviceLimits:
    """The call and send buckets of each device, shared by all its connections
    (a device cannot multiply its rate by opening more sockets) and kept across
    reconnects. The oldest devices are forgotten past ``max_devices``."""

    def __init__(
        self, calls: tuple[float, int], sends: tuple[float, int], max_devices: int = 100_000
    ) -> None:
        self._calls, self._sends, self._max = calls, sends, max_devices
        self._buckets: dict[int, tuple[TokenBucket, TokenBucket]] = {}

    def of(self, device_id: int, now: float) -> tuple[TokenBucket, TokenBucket]:
        """The (calls, sends) buckets of ``device_id``."""
        found = self._buckets.pop(device_id, None)
        if found is None:
            if len(self._buckets) >= self._max:
                del self._buckets[next(iter(self._buckets))]
            found = (TokenBucket(*self._calls, now), TokenBucket(*self._sends, now))
        self._buckets[device_id] = found  # most recently used last
        return found
