"""Thread memberships kept in memory, invalidated when a thread changes.

Membership is read on every send, typing and presence change; it changes
rarely (a thread opened, a member added or removed), and every such change
sends every node a ``ThreadChanged`` control message that calls
``invalidate`` (``server.broker.control``).

Device lists: each user's newest signed list, parsed, dropped when a
``KeysChanged`` says the user published another.

Practitioners: whether they are verified, their inbox settings and their
rules, read on every patient message, dropped when a ``PracticeChanged``
says they changed (``inbox.updated``, ``rules.updated``,
``account.verified``).

Delegations: those each assistant received, by practitioner, dropped when
an ``AccessChanged`` says they changed.

Sender keys: the devices each was distributed to, kept once read: a stored
distribution never changes.

Receipt floors: the receipts this node has seen stored. Receipts only move
forward, so a floor is never above the truth, even with other nodes
writing; a receipt at or under its floor changes nothing and needs no write
(a user's devices each acknowledge the same message; a sender's other
device acknowledges a message its sending already marked read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

import msgspec

from protocol.e2e import Delegate, DeviceList, decode_device_list
from protocol.model import Role, ThreadKind
from protocol.practice import InboxSettings, Rule, default_reasons
from server.loads import SharedLoads
from server.policy import Practitioner
from storage.delegations import Delegations
from storage.keys import Keys, SenderKeyRef
from storage.practice import Practices
from storage.rules import Rules
from storage.threads import Receipt, Threads

__all__ = ["Directory", "ThreadMeta", "decode_rule"]

_NOTHING = Receipt(0, 0)


_INBOX = msgspec.msgpack.Decoder(InboxSettings)
_RULE = msgspec.msgpack.Decoder(Rule)


@dataclass(frozen=True, slots=True)
class ThreadMeta:
    kind: ThreadKind
    members: Mapping[int, Role]  # current members and their roles


_NO_THREAD = ThreadMeta(ThreadKind.GROUP, MappingProxyType({}))


def decode_rule(rule_id: int, stored: bytes) -> Rule:
    rule = _RULE.decode(stored)
    rule.id = rule_id
    return rule


class Directory:
    def __init__(
        self,
        threads: Threads,
        keys: Keys,
        practices: Practices,
        rules: Rules,
        delegations: Delegations,
        max_entries: int = 100_000,
    ) -> None:
        self._threads = threads
        self._keys = keys
        self._practices = practices
        self._rules = rules
        self._delegations = delegations
        self._grants: dict[int, Mapping[int, Delegate]] = {}
        self._lists: dict[int, DeviceList] = {}
        self._threads_meta: dict[int, ThreadMeta] = {}
        self._practitioners: dict[int, Practitioner] = {}
        self._contacts: dict[int, frozenset[int]] = {}
        self._floors: dict[int, dict[int, Receipt]] = {}  # thread -> user -> receipt
        self._sender_keys: dict[SenderKeyRef, frozenset[int]] = {}  # never change once stored
        self._max = max_entries
        # Bumped by every invalidation: a load that saw it move while it
        # awaited the store may hold stale data, so it is not cached.
        self._generation = 0
        self._threads_loads: SharedLoads[ThreadMeta] = SharedLoads()
        self._practitioner_loads: SharedLoads[Practitioner] = SharedLoads()
        self._lists_generation = 0  # bumped by ``forget_device_lists``
        self._list_loads: SharedLoads[dict[int, DeviceList]] = SharedLoads()

    async def thread(self, thread_id: int) -> ThreadMeta:
        """The thread's kind and current members (no members if no such thread)."""
        found = self._threads_meta.get(thread_id)
        if found is None:
            read = partial(self._read_thread, thread_id)
            return await self._threads_loads.load(thread_id, self._generation, read)
        return found

    async def _read_thread(self, thread_id: int) -> ThreadMeta:
        generation = self._generation
        meta = await self._threads.meta(thread_id)
        if meta is None:
            return _NO_THREAD
        kind, roles = meta
        members = MappingProxyType({user: Role(role) for user, role in roles.items()})
        found = ThreadMeta(ThreadKind(kind), members)
        if generation == self._generation:
            self._remember(self._threads_meta, thread_id, found)
        return found

    async def members(self, thread_id: int) -> Mapping[int, Role]:
        """The thread's current members and their roles (empty if no such thread)."""
        return (await self.thread(thread_id)).members

    async def practitioner(self, user_id: int) -> Practitioner:
        """Whether the practitioner is verified, their inbox settings and rules."""
        found = self._practitioners.get(user_id)
        if found is None:
            read = partial(self._read_practitioner, user_id)
            return await self._practitioner_loads.load(user_id, self._generation, read)
        return found

    async def _read_practitioner(self, user_id: int) -> Practitioner:
        generation = self._generation
        verified, stored, locale = await self._practices.inbox(user_id)
        inbox = (
            InboxSettings(reasons=default_reasons(locale))
            if stored is None
            else _INBOX.decode(stored)
        )
        rules = tuple(decode_rule(i, r) for i, r in await self._rules.of(user_id))
        found = Practitioner(user_id, verified, inbox, rules)
        # Until verified, re-read: ``carehub admin verify`` tells no node.
        if verified and generation == self._generation:
            self._remember(self._practitioners, user_id, found)
        return found

    async def grants(self, delegate_id: int) -> Mapping[int, Delegate]:
        """The delegations ``delegate_id`` received, by practitioner."""
        found = self._grants.get(delegate_id)
        if found is None:
            generation = self._generation
            records = await self._delegations.to(delegate_id)
            found = MappingProxyType(
                {
                    r.principal_id: Delegate(r.delegate_id, r.grant.scope, r.grant.expires)
                    for r in records
                }
            )
            if generation == self._generation:
                self._remember(self._grants, delegate_id, found)
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
        found = {user: self._lists[user] for user in wanted if user in self._lists}
        missing = [user for user in wanted if user not in found]  # not O(cache)
        if missing:
            generation = self._lists_generation
            for read in await self._list_loads.load_together(missing, generation, self._read_lists):
                found.update((user, lst) for user, lst in read.items() if user in wanted)
        return found

    async def _read_lists(self, user_ids: list[Any]) -> dict[int, DeviceList]:
        """The lists read, kept unless one was forgotten meanwhile (the
        caller gets them all the same: it asked before the forgetting)."""
        generation = self._lists_generation
        found = {
            user_id: decode_device_list(signed)[1]
            for user_id, signed in (await self._keys.lists(user_ids)).items()
        }
        if generation == self._lists_generation:
            for user_id, device_list in found.items():
                self._remember(self._lists, user_id, device_list)
        return found

    async def sender_key_devices(self, ref: SenderKeyRef) -> frozenset[int]:
        """The devices a sender key was distributed to (none if there is no such key)."""
        found = self._sender_keys.get(ref)
        if found is None:
            found = await self._keys.sender_key_devices(ref)
            if found is None:
                return frozenset()
            self._remember(self._sender_keys, ref, found)
        return found

    def forget_device_lists(self, user_ids: Iterable[int]) -> None:
        self._lists_generation += 1
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

    def forget_practitioner(self, user_id: int) -> None:
        self._generation += 1
        self._practitioners.pop(user_id, None)

    def forget_grants(self, delegate_id: int) -> None:
        self._generation += 1
        self._grants.pop(delegate_id, None)

    def forget_all(self) -> None:
        """Drop every cache: invalidations may have been lost (a broker outage).
        Receipt floors stay: they are never above the truth."""
        self._generation += 1  # a read under way may have missed the same
        self._lists_generation += 1
        for cache in (
            self._grants,
            self._lists,
            self._threads_meta,
            self._practitioners,
            self._contacts,
        ):
            cache.clear()

    def invalidate(self, thread_id: int, members: Iterable[int]) -> None:
        """Forget ``thread_id``'s members and receipt floors (a member who
        leaves and comes back starts over), and the contacts of its old and
        new ``members``."""
        self._generation += 1
        self._floors.pop(thread_id, None)
        meta = self._threads_meta.pop(thread_id, _NO_THREAD)
        for user_id in (*meta.members, *members):
            self._contacts.pop(user_id, None)

    def _remember(self, cache: dict[Any, Any], key: Any, value: Any) -> None:
        if len(cache) >= self._max:
            cache.pop(next(iter(cache)))
        cache[key] = value
