"""What the nodes of one deployment share besides deliveries: presence,
leases (rate limits are in ``server.ratelimit``). Each has a local
implementation, for one node, and a Redis one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from protocol.methods import PresenceEntry
from protocol.model import PresenceStatus

__all__ = ["BrokerDown", "Leases", "LocalBoard", "LocalLeases", "PresenceBoard"]


class BrokerDown(Exception):
    """The shared state is out of reach (Redis is down): use the node's own view."""


class PresenceBoard(Protocol):
    async def put(self, user_id: int, status: PresenceStatus, now: int) -> PresenceEntry | None:
        """Record this node's status of ``user_id`` (OFFLINE: no socket of
        theirs here). Returns their entry when their status over all nodes
        changed (it is for their contacts), else None; of several nodes
        reporting one change, exactly one gets it."""

    async def get(self, user_ids: Sequence[int]) -> list[PresenceEntry]:
        """Each user's status over all live nodes."""

    async def put_devices(self, user_id: int, devices: frozenset[int]) -> None:
        """Record the devices of ``user_id`` with a socket on this node."""

    async def devices(self, user_ids: Sequence[int]) -> set[int]:
        """The devices of ``user_ids`` with a socket on any live node."""

    async def reap(self, now: int) -> list[PresenceEntry]:
        """Forget the nodes that stopped without a word (a crash, or this
        node's own previous run): the entries that changed."""


class Leases(Protocol):
    """Leases save duplicate work, they do not make it safe: a lease can
    lapse while its holder pauses, so the work must be safe on two nodes at
    once (reminders and notifications are claimed row by row). While Redis is
    unreachable, every node holds every lease."""

    async def hold(self, name: str, seconds: float) -> bool:
        """Take or keep lease ``name`` for ``seconds``: whether this node holds it."""

    async def release(self, name: str) -> None:
        """Let another node take ``name`` at once (this node stops)."""


class LocalBoard:
    """One node: its view is everyone's."""

    def __init__(self) -> None:
        self._entries: dict[int, PresenceEntry] = {}
        self._devices: dict[int, frozenset[int]] = {}

    async def put(self, user_id: int, status: PresenceStatus, now: int) -> PresenceEntry | None:
        if status == self._status(user_id):
            return None
        self._entries[user_id] = entry = PresenceEntry(user_id, status, now)
        return entry

    async def get(self, user_ids: Sequence[int]) -> list[PresenceEntry]:
        return [
            self._entries.get(user, PresenceEntry(user, PresenceStatus.OFFLINE))
            for user in user_ids
        ]

    async def put_devices(self, user_id: int, devices: frozenset[int]) -> None:
        if devices:
            self._devices[user_id] = devices
        else:
            self._devices.pop(user_id, None)

    async def devices(self, user_ids: Sequence[int]) -> set[int]:
        return {device for user in user_ids for device in self._devices.get(user, ())}

    async def reap(self, now: int) -> list[PresenceEntry]:
        return []  # a node that stopped took its board with it

    def _status(self, user_id: int) -> PresenceStatus:
        entry = self._entries.get(user_id)
        return PresenceStatus.OFFLINE if entry is None else entry.status


class LocalLeases:
    """One node holds every lease."""

    async def hold(self, name: str, seconds: float) -> bool:
        return True

    async def release(self, name: str) -> None:
        """Nobody else could take it."""
