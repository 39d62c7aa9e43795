"""Thread memberships kept in memory, invalidated when a thread changes.

Membership is read on every send, typing and presence change; it changes
rarely (a thread opened, a member added or removed), and every such change
travels as a ``thread.updated`` delivery that calls ``invalidate``.

Device lists: each user's newest signed list, parsed, dropped when a
``keys.updated`` delivery says the user published another.

Receipt floors: the receipts this node has seen stored. Receipts only move
forward, so a floor is never above the truth, even with other nodes
writing; a receipt at or under its floor changes nothing and needs no write
(a user's devices each acknowledge the same message; a sender's other
device acknowledges a message its sending already marked read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from protocol.e2e import DeviceList, decode_device_list
from protocol.model import Role
from server.broker.base import Delivery
from storage.keys import Keys
from storage.threads import Receipt, Threads

__all__ = ["Directory"]

_NOTHING = Receipt(0, 0)


class Directory:
    def __init__(self, threads: Threads, keys: Keys, max_entries: int = 100_000) -> None:
        self._threads = threads
        self._keys = keys
        self._lists: dict[int, DeviceList] = {}
        self._members: dict[int, Mapping[int, Role]] = {}
        self._contacts: dict[int, frozenset[int]] = {}
        self._floors: dict[int, dict[int, Receipt]] = {}  # thread -> user -> receipt
        self._max = max_entries

    async def members(self, thread_id: int) -> Mapping[int, Role]:
        """The thread's current members and their roles (empty if no such thread)."""
        found = self._members.get(thread_id)
        if found is None:
            roles = await self._threads.member_roles(thread_id)
            found = MappingProxyType({user: Role(role) for user, role in roles.items()})
            self._remember(self._members, thread_id, found)
        return found

    async def contacts(self, user_id: int) -> frozenset[int]:
        """Users who share a thread with ``user_id`` (who may see their presence)."""
        found = self._contacts.get(user_id)
        if found is None:
            found = frozenset(await self._threads.contacts(user_id))
            self._remember(self._contacts, user_id, found)
        return found

    async def device_lists(self, user_ids: Iterable[int]) -> dict[int, DeviceList]:
        """The newest device list of each user who published one."""
        wanted = set(user_ids)
        missing = wanted - self._lists.keys()
        if missing:
            for user_id, signed in (await self._keys.lists(missing)).items():
                self._remember(self._lists, user_id, decode_device_list(signed)[1])
        return {u: self._lists[u] for u in wanted if u in self._lists}

    def forget_device_lists(self, user_ids: Iterable[int]) -> None:
        for user_id in user_ids:
            self._lists.pop(user_id, None)

    def receipt_floor(self, thread_id: int, user_id: int) -> Receipt:
        return self._floors.get(thread_id, {}).get(user_id, _NOTHING)

    def raise_receipt_floor(self, thread_id: int, user_id: int, receipt: Receipt) -> None:
        floors = self._floors.get(thread_id)
        if floors is None:
            floors = {}
            self._remember(self._floors, thread_id, floors)
        known = floors.get(user_id, _NOTHING)
        floors[user_id] = Receipt(
            max(known.delivered_seq, receipt.delivered_seq), max(known.read_seq, receipt.read_seq)
        )

    def observe(self, delivery: Delivery) -> None:
        """Drop what a delivery says has changed."""
        if delivery.thread_changed is not None:
            self.invalidate(delivery.thread_changed, delivery.recipients)
        if delivery.keys_changed is not None:
            self._lists.pop(delivery.keys_changed, None)

    def invalidate(self, thread_id: int, members: Iterable[int]) -> None:
        """Forget ``thread_id``'s members and receipt floors (a member who
        leaves and comes back starts over), and the contacts of its old and
        new ``members``."""
        self._floors.pop(thread_id, None)
        for user_id in (*self._members.pop(thread_id, ()), *members):
            self._contacts.pop(user_id, None)

    def _remember(self, cache: dict[int, Any], key: int, value: Any) -> None:
        if len(cache) >= self._max:
            cache.pop(next(iter(cache)))
        cache[key] = value
