"""Presence: a user's status aggregated over their sessions on this node,
pushed to the people who share a thread with them and to nobody else."""

from __future__ import annotations

from protocol.codec import encode_event, to_raw
from protocol.events import PresenceChanged
from protocol.methods import PresenceEntry
from protocol.model import PresenceStatus
from server.broker.base import Broker, Delivery
from server.clock import Clock
from server.directory import Directory
from server.hub import Hub

__all__ = ["Presence"]


class Presence:
    def __init__(self, hub: Hub, directory: Directory, broker: Broker, clock: Clock) -> None:
        self._hub = hub
        self._directory = directory
        self._broker = broker
        self._clock = clock
        self._published: dict[int, PresenceStatus] = {}
        self._last_seen: dict[int, int] = {}

    def status(self, user_id: int) -> PresenceStatus:
        statuses = {conn.status for conn in self._hub.of(user_id) if not conn.closing}
        if PresenceStatus.ONLINE in statuses:
            return PresenceStatus.ONLINE
        return PresenceStatus.AWAY if statuses else PresenceStatus.OFFLINE

    def entry(self, user_id: int) -> PresenceEntry:
        return PresenceEntry(user_id, self.status(user_id), self._last_seen.get(user_id))

    async def refresh(self, user_id: int) -> None:
        """Publish the user's status to their contacts if it changed."""
        status = self.status(user_id)
        if status == self._published.get(user_id, PresenceStatus.OFFLINE):
            return
        if status is PresenceStatus.OFFLINE:
            del self._published[user_id]
        else:
            self._published[user_id] = status
        self._last_seen[user_id] = self._clock.ms()
        contacts = await self._directory.contacts(user_id)
        if contacts:
            data = PresenceChanged(user_id, status, self._last_seen[user_id])
            frame = encode_event("presence", to_raw(data))
            await self._broker.publish(Delivery(recipients=sorted(contacts), frame=frame))
