"""Presence in Redis, with expiry.

Each user has a hash: one field per node holding a socket of theirs
(``n:{node}`` -> online or away), and the status last pushed to their
contacts with its time (``status``, ``seen``). A node's fields count only
while its ``alive`` key (kept by its heartbeat, with an expiry) exists: a
crashed node's users read as offline within that expiry, by themselves.
The reaper then forgets the dead node (its fields, its routes, its user
list) and returns the users whose status changed, for their contacts.

Recording a node's status and deciding whether the overall status changed
is one script, so of two nodes reporting the same change exactly one pushes
it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import redis.asyncio as redis
from redis.exceptions import RedisError

from protocol.methods import PresenceEntry
from protocol.model import PresenceStatus
from server.broker.redis_keys import Keys
from server.broker.shared import BrokerDown

__all__ = ["RedisPresence"]

# The status over the live nodes' fields of the hash ``key``.
_OVERALL = """
local function overall(key, alive_prefix)
  local best = 'offline'
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local name = fields[i]
    if string.sub(name, 1, 2) == 'n:'
        and redis.call('EXISTS', alive_prefix .. string.sub(name, 3) .. ':alive') == 1 then
      if fields[i + 1] == 'online' then
        best = 'online'
      elseif best == 'offline' then
        best = 'away'
      end
    end
  end
  return best
end
"""
# KEYS[1]: the user's hash; ARGV: node, its status of the user, now, alive prefix.
_PUT = (
    _OVERALL
    + """
if ARGV[2] == 'offline' then
  redis.call('HDEL', KEYS[1], 'n:' .. ARGV[1])
else
  redis.call('HSET', KEYS[1], 'n:' .. ARGV[1], ARGV[2])
end
local status = overall(KEYS[1], ARGV[4])
if status == (redis.call('HGET', KEYS[1], 'status') or 'offline') then return false end
redis.call('HSET', KEYS[1], 'status', status, 'seen', ARGV[3])
return {status, ARGV[3]}
"""
)
# KEYS: the users' hashes; ARGV[1]: alive prefix. Returns status, seen, status, seen...
_GET = (
    _OVERALL
    + """
local found = {}
for i, key in ipairs(KEYS) do
  found[2 * i - 1] = overall(key, ARGV[1])
  found[2 * i] = redis.call('HGET', key, 'seen') or ''
end
return found
"""
)


class RedisPresence:
    def __init__(self, client: redis.Redis, keys: Keys, node: str) -> None:
        self._redis, self._keys, self._node = client, keys, node
        self._alive_prefix = keys.alive_prefix
        self._put = client.register_script(_PUT)
        self._get = client.register_script(_GET)
        self._left_behind: list[PresenceEntry] = []

    async def put(self, user_id: int, status: PresenceStatus, now: int) -> PresenceEntry | None:
        try:
            return await self._record(self._node, user_id, status, now)
        except (RedisError, OSError) as exc:
            raise BrokerDown(str(exc)) from exc

    async def get(self, user_ids: Sequence[int]) -> list[PresenceEntry]:
        if not user_ids:
            return []
        try:
            found = await self._get(
                keys=[self._keys.presence(user) for user in user_ids], args=[self._alive_prefix]
            )
        except (RedisError, OSError) as exc:
            raise BrokerDown(str(exc)) from exc
        return [
            PresenceEntry(user, PresenceStatus(status.decode()), int(seen) if seen else None)
            for user, status, seen in zip(user_ids, found[::2], found[1::2], strict=True)
        ]

    async def put_devices(self, user_id: int, devices: frozenset[int]) -> None:
        """The user's hash also holds ``d:{node}``: this node's devices of theirs."""
        field = f"d:{self._node}"
        key = self._keys.presence(user_id)
        try:
            if devices:
                await self._redis.hset(key, field, ",".join(map(str, sorted(devices))))
            else:
                await self._redis.hdel(key, field)
        except (RedisError, OSError) as exc:
            raise BrokerDown(str(exc)) from exc

    async def devices(self, user_ids: Sequence[int]) -> set[int]:
        """From the ``d:{node}`` fields of the nodes whose ``alive`` key exists."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user in user_ids:
                    pipe.hgetall(self._keys.presence(user))
                hashes = await pipe.execute()
            by_node: dict[str, set[int]] = {}
            for fields in hashes:
                for name, value in fields.items():
                    if name.startswith(b"d:") and value:
                        found = by_node.setdefault(name[2:].decode(), set())
                        found.update(int(device) for device in value.split(b","))
            alive = [node for node in by_node if await self._redis.exists(self._keys.alive(node))]
        except (RedisError, OSError) as exc:
            raise BrokerDown(str(exc)) from exc
        return {device for node in alive for device in by_node[node]}

    async def forget_previous_run(self, now: int) -> None:
        """At start, before any socket: what this node's previous run left
        (it crashed) is forgotten; ``reap`` returns the changes."""
        self._left_behind = await self._forget(self._node, now)

    async def reap(self, now: int) -> list[PresenceEntry]:
        changed, self._left_behind = self._left_behind, []
        try:
            for name in await self._redis.smembers(self._keys.nodes):
                node = cast(bytes, name).decode()
                if node != self._node and not await self._redis.exists(self._keys.alive(node)):
                    changed += await self._forget(node, now)
        except (RedisError, OSError) as exc:
            raise BrokerDown(str(exc)) from exc
        return changed

    async def _forget(self, node: str, now: int) -> list[PresenceEntry]:
        """Everything ``node`` recorded: its users' fields, their routes to it."""
        users = [int(user) for user in await self._redis.smembers(self._keys.users_of(node))]
        changed = []
        for user in users:
            entry = await self._record(node, user, PresenceStatus.OFFLINE, now)
            if entry is not None:
                changed.append(entry)
        async with self._redis.pipeline(transaction=False) as pipe:
            for user in users:
                pipe.srem(self._keys.route(user), node)
                pipe.hdel(self._keys.presence(user), f"d:{node}")
            pipe.delete(self._keys.users_of(node))
            if node != self._node:
                pipe.srem(self._keys.nodes, node)
            await pipe.execute()
        return changed

    async def _record(
        self, node: str, user_id: int, status: PresenceStatus, now: int
    ) -> PresenceEntry | None:
        changed = await self._put(
            keys=[self._keys.presence(user_id)], args=[node, status.value, now, self._alive_prefix]
        )
        if changed is None:
            return None
        return PresenceEntry(user_id, PresenceStatus(changed[0].decode()), int(changed[1]))
