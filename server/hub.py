"""The connection registry of this node and the delivery of pushed frames.

A thread's frame for a practitioner also reaches the sockets of the
assistants and bots who read for them (``Connection.grants``): they work
that inbox live; what is addressed to the practitioner alone (their
settings, their contacts' presence) stays theirs. When an
assistant's delegations change, their sockets are closed so they reconnect
with the new ones: revoking takes effect at once."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from time import monotonic

from protocol.codec import encode
from protocol.e2e import Scope
from protocol.errors import CloseCode
from protocol.frames import Ping
from server.broker.base import Delivery
from server.clock import Clock
from server.connection import Connection
from server.policy import DELEGATE_ROLES

__all__ = ["Hub"]

MAX_PARKED = 10_000
ENDED_MEMORY_S = 60.0  # far longer than a hello takes between its token's read and ``add``


class Hub:
    def __init__(self, clock: Clock, sockets_per_device: int = 8) -> None:
        self._clock = clock
        # Every durable event with a seq up to here has been pushed to the
        # sockets then registered; those registered later replay up to here.
        self.delivered = 0
        # Set when durable events come from storage (``server.stream``), not
        # from the broker: a delivery with a seq is then only a wake-up.
        self.follow: Callable[[], None] | None = None
        # Popups whose message is not delivered yet (ephemeral: the oldest may be lost).
        self._parked = deque[Delivery](maxlen=MAX_PARKED)
        self._sockets_per_device = sockets_per_device
        self._by_user: dict[int, set[Connection]] = {}
        self._readers: dict[int, set[Connection]] = {}  # practitioner -> delegates' sockets
        self._empty = asyncio.Event()
        self._empty.set()
        # Tokens whose sessions ended lately, and why: a socket whose hello
        # read its token as valid just before is closed as it registers.
        self._ended: dict[bytes, tuple[float, str]] = {}

    def add(self, conn: Connection) -> list[int]:
        """Register ``conn``; the users whose deliveries must now reach this
        node and did not before (``Broker.attach``). A device past its
        number of sockets loses its oldest: a client reconnecting before its
        old socket timed out is never locked out."""
        self._empty.clear()
        same_device = [c for c in self.of(conn.user_id) if c.device_id == conn.device_id]
        open_ = sorted((c for c in same_device if not c.closing), key=lambda c: c.opened)
        for oldest in open_[: max(0, len(open_) + 1 - self._sockets_per_device)]:
            oldest.close(CloseCode.DEVICE_SOCKETS, "this device opened newer sockets")
        placed = self._place(self._by_user, conn.user_id, conn)
        ended = self._ended.get(conn.token_hash)
        if ended is not None and ended[0] > monotonic():
            conn.close(CloseCode.TOKEN_REVOKED, ended[1])
        return placed

    def read_for(self, conn: Connection) -> list[int]:
        """Also deliver to ``conn`` what reaches the practitioners it reads
        for; those newly needed on this node."""
        added = []
        for principal in conn.grants:
            added += self._place(self._readers, principal, conn)
        return added

    def remove(self, conn: Connection) -> list[int]:
        """Forget ``conn``; the users this node no longer needs deliveries for."""
        places = [(self._by_user, conn.user_id), *((self._readers, p) for p in conn.grants)]
        for index, key in places:
            conns = index.get(key)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del index[key]
        if not self._by_user:
            self._empty.set()
        return [key for _, key in places if not self._needed(key)]

    async def emptied(self) -> None:
        """Wait until no connection is left."""
        await self._empty.wait()

    def _place(self, index: dict[int, set[Connection]], key: int, conn: Connection) -> list[int]:
        needed = self._needed(key)
        index.setdefault(key, set()).add(conn)
        return [] if needed else [key]

    def _needed(self, user_id: int) -> bool:
        """Whether a delivery addressed to ``user_id`` has a socket here."""
        return user_id in self._by_user or user_id in self._readers

    def of(self, user_id: int) -> set[Connection]:
        return self._by_user.get(user_id, set())

    def __iter__(self) -> Iterator[Connection]:
        for conns in list(self._by_user.values()):
            yield from list(conns)

    def __len__(self) -> int:
        return sum(len(conns) for conns in self._by_user.values())

    def deliver(self, delivery: Delivery) -> None:
        """Take a delivery from the broker: its frame queued on every
        matching local connection, or, for a durable event read from storage
        instead, a wake-up of that reading (``follow``)."""
        if delivery.seq is not None and self.follow is not None:
            self.follow()
        elif delivery.after is not None and delivery.after > self.delivered:
            self._parked.append(delivery)  # past MAX_PARKED the oldest are lost
        else:
            self.push(delivery)
            if delivery.seq is not None:
                self.advance(max(self.delivered, delivery.seq))

    def advance(self, delivered: int) -> None:
        """Every durable event up to ``delivered`` is pushed: so are the
        ephemeral pushes that waited for one of them."""
        self.delivered = delivered
        if self._parked:
            waiting = deque[Delivery](maxlen=MAX_PARKED)
            for parked in self._parked:
                if (parked.after or 0) <= delivered:
                    self.push(parked)
                else:
                    waiting.append(parked)
            self._parked = waiting

    def reaches(self, users: Iterable[int]) -> bool:
        """Whether a delivery to ``users`` has a socket on this node."""
        return any(self._needed(user) for user in users)

    def push(self, delivery: Delivery) -> None:
        """Queue the delivery's frame on every matching local connection."""
        if self._readers and delivery.thread is not None:
            reached = self._with_readers(delivery.recipients)
        else:
            reached = [c for user in delivery.recipients for c in self._by_user.get(user, ())]
        for conn in reached:
            if conn.session == delivery.exclude_session:
                continue
            if conn.device_id == delivery.exclude_device:
                continue
            if delivery.foreground_only and not conn.foreground:
                continue
            if delivery.seq is None:
                conn.push(delivery.frame)
            else:
                conn.push_event(delivery.seq, delivery.frame)

    def close_sessions(self, user_id: int, token_hashes: list[bytes], why: str) -> None:
        """Close the user's sockets opened with tokens that were revoked, and
        those about to register with one (``add``), for ``ENDED_MEMORY_S``.
        One already finishing for that reason (the socket whose call ended
        its own session) closes once its answer is sent."""
        now = monotonic()
        self._ended = {token: kept for token, kept in self._ended.items() if kept[0] > now}
        self._ended.update(dict.fromkeys(token_hashes, (now + ENDED_MEMORY_S, why)))
        ended = set(token_hashes)
        for conn in list(self.of(user_id)):
            if conn.token_hash in ended and conn.finishing_with != CloseCode.TOKEN_REVOKED:
                conn.close(CloseCode.TOKEN_REVOKED, why)

    def close_access(self, delegate_id: int) -> None:
        """Close a delegate's sockets: their delegations changed (but not one
        about to close for good once it answered: its account was deleted)."""
        for conn in list(self.of(delegate_id)):
            if conn.finishing_with != CloseCode.TOKEN_REVOKED:
                conn.close(CloseCode.ACCESS_CHANGED, "your delegations changed: reconnect")

    def _with_readers(self, recipients: list[int]) -> list[Connection]:
        """The recipients' sockets and those of their current readers, once each."""
        now = self._clock.ms()
        reached: dict[Connection, None] = {}
        for user_id in recipients:
            reached.update(dict.fromkeys(self._by_user.get(user_id, ())))
            for conn in self._readers.get(user_id, ()):
                if conn.grants[user_id].allows(Scope.READ, now):
                    reached[conn] = None
        return list(reached)

    def heartbeat(self, interval: float) -> None:
        """Ping every connection; close those silent for two intervals. A
        live connection's ping carries ``delivered``: everything up to it
        was queued before the ping, so its client's cursor may move there."""
        now = monotonic()
        replaying, live = encode(Ping(ts=0)), encode(Ping(ts=0, cursor=self.delivered))
        for conn in self:
            if now - conn.last_received > 2 * interval:
                conn.close(CloseCode.HEARTBEAT_TIMEOUT, "no frame received for two heartbeats")
            else:
                conn.push(live if conn.live else replaying)

    def close_delegates(self, code: int, reason: str) -> None:
        """Close the sockets of assistants and bots (their grants may be stale)."""
        for conn in self:
            if conn.role in DELEGATE_ROLES:
                conn.close(code, reason)

    def close_all(self, code: int, reason: str) -> None:
        for conn in self:
            conn.close(code, reason)
