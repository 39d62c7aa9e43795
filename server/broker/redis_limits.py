"""Rate limits every node shares: the token buckets live in Redis.

A bucket is one key holding its "theoretical arrival time" (GCRA, the
generic cell rate algorithm): a token bucket of ``burst`` tokens refilled at
``rate`` a second allows a charge when that time, pushed on by one interval,
is at most ``burst`` intervals ahead of now. One script checks every charge
of a call and spends them all or none, on Redis's clock (the nodes' clocks
may differ), in one round trip. While Redis is unreachable the node limits
with its own buckets: each node is then as strict as one node.
"""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import RedisError

from server.broker.redis_keys import Keys
from server.ratelimit import Charge, LocalLimiter

__all__ = ["RedisLimiter"]

# KEYS: the buckets; ARGV: for each, its interval (ms a token) and burst.
# Returns the milliseconds to wait, as a string (Lua numbers become integers).
_TAKE = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000
local wait, next_tat = 0, {}
for i, key in ipairs(KEYS) do
  local interval, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local tat = math.max(tonumber(redis.call('GET', key) or now), now) + interval
  wait = math.max(wait, tat - now - burst * interval)
  next_tat[i] = tat
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tostring(next_tat[i]), 'PX', math.ceil(next_tat[i] - now) + 1)
end
return '0'
"""


class RedisLimiter:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._keys = keys
        self._take = client.register_script(_TAKE)
        self._fallback = LocalLimiter()

    async def take(self, *charges: Charge) -> float:
        keys = [self._keys.rate(name) for name, _ in charges]
        args: list[float] = []
        for _, limit in charges:
            args += (1000 / limit.rate, limit.burst)
        try:
            wait_ms = await self._take(keys=keys, args=args)
        except (RedisError, OSError):
            return await self._fallback.take(*charges)
        return float(wait_ms) / 1000
