"""How far a node's push queue got, and which events it may look at yet."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["GRACE_MS", "PushProgress"]

# A message waits this long before the push queue looks at it: long enough
# for an open app to have received it and read it (its read receipt then
# spares the push), short enough to reach a pocket at once.
GRACE_MS = 1_000


@dataclass
class PushProgress:
    """``position``: how far this node's push queue got (storage has the
    truth). ``settled`` bounds a round by the stream's position of a grace
    period ago, as this node's rounds saw it: a round then reads only events
    it may act on, where reading up to the newest read every younger event
    again, round after round. Its times are ``clock``'s, in seconds, a
    monotonic clock: a wall clock set back would hold every round back."""

    position: int = -1
    clock: Callable[[], float] = time.monotonic
    _seen: deque[tuple[int, int]] = field(default_factory=deque)  # (ms, delivered), oldest first

    def settled(self, delivered: int) -> int:
        """The newest position seen delivered at least ``GRACE_MS`` ago (-1
        while none is that old: the queue waits); ``delivered`` is the
        position now."""
        now = int(self.clock() * 1000)
        self._seen.append((now, delivered))
        cutoff = now - GRACE_MS
        while len(self._seen) > 1 and self._seen[1][0] <= cutoff:
            self._seen.popleft()
        at, position = self._seen[0]
        return position if at <= cutoff else -1
