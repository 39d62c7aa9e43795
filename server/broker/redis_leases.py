"""Leases in Redis: a key holding the holder's node name, with an expiry."""

from __future__ import annotations

import contextlib

import redis.asyncio as redis
from redis.exceptions import RedisError

from server.broker.redis_keys import Keys

__all__ = ["RedisLeases"]

# KEYS[1]: the lease; ARGV: this node, milliseconds. Take it if free, keep it if ours.
_HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLeases:
    def __init__(self, client: redis.Redis, keys: Keys, node: str) -> None:
        self._keys, self._node = keys, node
        self._hold = client.register_script(_HOLD)
        self._release = client.register_script(_RELEASE)

    async def hold(self, name: str, seconds: float) -> bool:
        try:
            held = await self._hold(
                keys=[self._keys.lease(name)], args=[self._node, int(seconds * 1000)]
            )
        except (RedisError, OSError):
            return True  # nobody can tell: the work is safe twice (see Leases)
        return bool(held)

    async def release(self, name: str) -> None:
        with contextlib.suppress(RedisError, OSError):  # else it lapses by itself
            await self._release(keys=[self._keys.lease(name)], args=[self._node])
