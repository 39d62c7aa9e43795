"""The connection registry of this node and the delivery of pushed frames."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from time import monotonic

from protocol.codec import encode
from protocol.errors import CloseCode
from protocol.frames import Ping
from server.broker.base import Delivery
from server.connection import Connection

__all__ = ["Hub"]


class Hub:
    def __init__(self, observe: Callable[[Delivery], None] | None = None) -> None:
        self._by_user: dict[int, set[Connection]] = {}
        self._observe = observe  # sees every delivery first (cache invalidation)

    def add(self, conn: Connection) -> None:
        self._by_user.setdefault(conn.user_id, set()).add(conn)

    def remove(self, conn: Connection) -> None:
        conns = self._by_user.get(conn.user_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._by_user[conn.user_id]

    def of(self, user_id: int) -> set[Connection]:
        return self._by_user.get(user_id, set())

    def __iter__(self) -> Iterator[Connection]:
        for conns in list(self._by_user.values()):
            yield from list(conns)

    def __len__(self) -> int:
        return sum(len(conns) for conns in self._by_user.values())

    def deliver(self, delivery: Delivery) -> None:
        """Queue the delivery's frame on every matching local connection."""
        if self._observe is not None:
            self._observe(delivery)
        for user_id in delivery.recipients:
            for conn in self._by_user.get(user_id, ()):
                if conn.session == delivery.exclude_session:
                    continue
                if delivery.foreground_only and not conn.foreground:
                    continue
                if delivery.seq is None:
                    conn.push(delivery.frame)
                else:
                    conn.push_event(delivery.seq, delivery.frame)

    def heartbeat(self, interval: float) -> None:
        """Ping every connection; close those silent for two intervals."""
        now = monotonic()
        ping = encode(Ping(ts=0))
        for conn in self:
            if now - conn.last_received > 2 * interval:
                conn.close(CloseCode.HEARTBEAT_TIMEOUT, "no frame received for two heartbeats")
            else:
                conn.push(ping)

    def close_all(self, code: int, reason: str) -> None:
        for conn in self:
            conn.close(code, reason)
