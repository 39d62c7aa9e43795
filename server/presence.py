"""Presence: a user's status over all their sessions on all nodes, pushed
to the people who share a thread with them and to nobody else.

Each node records its own view of a user (from its sockets) on the broker's
board, which says when the overall status changed. While the board is out
of reach (Redis down) a node answers from its own view, and records again
once it is back (``resync``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from protocol.codec import encode_event, to_raw
from protocol.events import PresenceChanged
from protocol.methods import PresenceEntry
from protocol.model import PresenceStatus
from server.broker.base import Broker, Delivery
from server.broker.shared import BrokerDown
from server.clock import Clock
from server.directory import Directory
from server.hub import Hub

__all__ = ["Presence"]

log = logging.getLogger(__name__)


class Presence:
    def __init__(self, hub: Hub, directory: Directory, broker: Broker, clock: Clock) -> None:
        self._hub = hub
        self._directory = directory
        self._broker = broker
        self._clock = clock
        self._unrecorded: set[int] = set()  # users whose status the board missed

    def status_here(self, user_id: int) -> PresenceStatus:
        """The user's status from this node's sockets alone."""
        statuses = {conn.status for conn in self._hub.of(user_id) if not conn.closing}
        if PresenceStatus.ONLINE in statuses:
            return PresenceStatus.ONLINE
        return PresenceStatus.AWAY if statuses else PresenceStatus.OFFLINE

    async def entries(self, user_ids: list[int]) -> list[PresenceEntry]:
        try:
            return await self._broker.presence.get(user_ids)
        except BrokerDown:
            return [PresenceEntry(user, self.status_here(user)) for user in user_ids]

    def devices_here(self, user_ids: Iterable[int]) -> set[int]:
        """The devices of ``user_ids`` with a socket on this node."""
        return {
            conn.device_id for user in user_ids for conn in self._hub.of(user) if not conn.closing
        }

    async def live_devices(self, user_ids: Sequence[int]) -> set[int]:
        """The devices of ``user_ids`` with a socket on any node (this node's
        alone while the board is out of reach)."""
        try:
            return await self._broker.presence.devices(user_ids) | self.devices_here(user_ids)
        except BrokerDown:
            return self.devices_here(user_ids)

    async def refresh(self, user_id: int) -> None:
        """Record this node's status and devices of the user; push a change
        of status to their contacts."""
        try:
            board = self._broker.presence
            await board.put_devices(user_id, frozenset(self.devices_here([user_id])))
            changed = await board.put(user_id, self.status_here(user_id), self._clock.ms())
        except BrokerDown:
            self._unrecorded.add(user_id)
            return
        self._unrecorded.discard(user_id)
        if changed is not None:
            await self._push([changed])

    async def resync(self) -> None:
        """Record what the board missed while it was out of reach."""
        for user_id in list(self._unrecorded):
            await self.refresh(user_id)

    async def reap(self) -> None:
        """Push the changes of the nodes that stopped without a word."""
        try:
            await self._push(await self._broker.presence.reap(self._clock.ms()))
        except BrokerDown:
            log.warning("presence reaper: the broker is unreachable")

    async def _push(self, entries: Iterable[PresenceEntry]) -> None:
        for entry in entries:
            contacts = await self._directory.contacts(entry.user)
            if contacts:
                data = PresenceChanged(entry.user, entry.status, entry.last_seen)
                frame = encode_event("presence", to_raw(data))
                await self._broker.publish(Delivery(recipients=sorted(contacts), frame=frame))
