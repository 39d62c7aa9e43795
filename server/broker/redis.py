"""The Redis broker: deliveries between nodes through Redis pub/sub.

Each node subscribes to its own channel, on one connection (not one per
socket). Which nodes hold a user's connections is a Redis set per user
(``route:{user}``), kept by ``attach``/``detach`` as the first socket of a
user opens on a node and the last one closes. ``publish`` is one script:
it reads the recipients' routes and publishes the delivery once to each
node holding any of them, so a frame crosses Redis once per node, not once
per recipient, in one round trip (each node's hub keeps its own
recipients). Control messages (``server.broker.control``) go to every
node on one channel all of them hear (``{prefix}:control``), subscribed on
the same connection as the node's own: one publisher's deliveries and
control messages reach a node in the order they were published.

A node's routes are also listed under the node (``node:{id}:users``): a
node starting again under the same id clears what it left, and a heartbeat
re-registers them all if Redis lost them (a restart without persistence).
The heartbeat also keeps the node's ``alive`` key, with an expiry: a node
whose key expired is dead, and the presence reaper forgets it.
While Redis is unreachable, a delivery reaches this node's hub only (a
durable event's delivery is only a wake-up: every node reads those from
the store, ``server.stream``), a control message reaches this node only,
and the node reports degraded; when the subscription comes back,
``on_recovered`` runs so the node can drop the caches whose control
messages it may have missed.

What else the nodes share through the same Redis: presence
(``redis_presence``), rate limits (``redis_limits``) and leases
(``redis_leases``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Iterable

import msgspec
import redis.asyncio as redis
from redis.exceptions import RedisError

from server.broker.base import Delivery, DeliveryHandler
from server.broker.control import Control, ControlHandler, decode_control, encode_control
from server.broker.redis_keys import Keys
from server.broker.redis_leases import RedisLeases
from server.broker.redis_limits import RedisLimiter
from server.broker.redis_presence import RedisPresence
from server.ending import ended

__all__ = ["RedisBroker"]

log = logging.getLogger(__name__)

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Delivery).decode
RETRY_SECONDS = 0.1  # the pace of the heartbeat and of subscribing again while recovering


# KEYS: the recipients' routes; ARGV: the channel prefix, the delivery. Each
# node holding one of them gets the delivery once (its hub keeps its own).
# Returns the nodes routed to whose channel nobody was subscribed.
_ROUTE = """
local sent, unheard = {}, {}
for _, key in ipairs(KEYS) do
  for _, node in ipairs(redis.call('SMEMBERS', key)) do
    if not sent[node] then
      sent[node] = true
      if redis.call('PUBLISH', ARGV[1] .. node, ARGV[2]) == 0 then
        table.insert(unheard, node)
      end
    end
  end
end
return unheard
"""


class RedisBroker:
    complete = False  # pub/sub drops while degraded, and nodes' publications interleave

    def __init__(
        self,
        url: str,
        node: str | None = None,
        *,
        prefix: str = "carehub",
        on_recovered: Callable[[], None] | None = None,
        alive_seconds: float = 15.0,
    ) -> None:
        self.node = node or f"{socket.gethostname()}-{id(self):x}"
        self.healthy = False
        self._keys = keys = Keys(prefix)
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self.presence = RedisPresence(self._redis, keys, self.node)
        self.limits = RedisLimiter(self._redis, keys)
        self.leases = RedisLeases(self._redis, keys, self.node)
        self._route = self._redis.register_script(_ROUTE)
        self._control_channel = keys.control.encode()
        self._handler: DeliveryHandler | None = None
        self._control: ControlHandler | None = None
        self._on_recovered = on_recovered
        self._local: set[int] = set()  # users this node has registered routes for
        self._unrouted: set[int] = set()  # users whose route could not be cleared
        self._subscribed = False
        self._recovering = False  # a failure was seen: recover once Redis is back
        self._listener: asyncio.Task[None] | None = None
        self._retired: set[asyncio.Task[None]] = set()  # listeners replaced, until they end
        self._beating: asyncio.Task[None] | None = None
        self._alive_ms = int(alive_seconds * 1000)  # silent this long, the node is dead
        self.unheard = 0  # publications to a routed node that had no subscriber
        self._trouble = asyncio.Event()  # set by a failure: the heartbeat recovers at once

    # The Broker interface

    async def start(self, handler: DeliveryHandler, control: ControlHandler) -> None:
        self._handler, self._control = handler, control
        with contextlib.suppress(RedisError, OSError):  # the heartbeat tries again
            await self._beat()
            await self.presence.forget_previous_run(int(time.time() * 1000))
        subscribed = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(subscribed), name="redis-listen")
        self._beating = asyncio.create_task(self._heartbeat(), name="redis-heartbeat")
        await subscribed.wait()

    async def publish(self, delivery: Delivery) -> None:
        """Send ``delivery`` to each node holding one of its recipients. While
        Redis is failing it goes to this node's hub only, without waiting on
        Redis again (the heartbeat finds out when it is back)."""
        if self.healthy or not self._recovering:
            try:
                routes = [self._keys.route(user) for user in delivery.recipients]
                args: list[str | bytes] = [self._keys.channel(""), _encode(delivery)]
                unheard = await self._route(keys=routes, args=args)
                self._check_heard([node.decode() for node in unheard])
                return
            except (RedisError, OSError):
                self._lost()
        if self._handler is not None:  # local users are still served
            self._handler(delivery)

    async def publish_control(self, message: Control) -> None:
        """Send ``message`` to every node. While Redis is failing it reaches
        this node only; the others recover as from any lost message."""
        if self.healthy or not self._recovering:
            try:
                heard = await self._redis.publish(self._keys.control, encode_control(message))
                self._check_heard([] if heard else [self.node])  # not even this node heard it
                return
            except (RedisError, OSError):
                self._lost()
        if self._control is not None:
            self._control(message)

    def _check_heard(self, unheard: list[str]) -> None:
        """Publishing found nodes with no subscriber: count them (a dead
        node's routes are reaped; a live one reads the stream on its own
        anyway). If this node is one, its subscription is gone though Redis
        answers: subscribe again at once, and recover as after an outage."""
        self.unheard += len(unheard)
        if self.node in unheard and self._subscribed:
            log.warning("redis has no subscription of this node: subscribing again")
            self._subscribed = False
            self._lost()
            if self._listener is not None:
                self._retire(self._listener)
                self._listener = asyncio.create_task(
                    self._listen(asyncio.Event()), name="redis-listen"
                )

    def _retire(self, listener: asyncio.Task[None]) -> None:
        """Cancel a replaced listener; ``stop`` ends it if it went on."""
        self._retired.add(listener)
        listener.add_done_callback(self._retired.discard)
        listener.cancel()

    async def stop(self) -> None:
        await ended(*self._retired, self._listener, self._beating)
        with contextlib.suppress(RedisError, OSError):
            await self._clear(self._local)
            # Dead at once: whatever it still shows reads offline, and the reaper forgets it.
            await self._redis.delete(self._keys.alive(self.node))
        await self._redis.aclose()
        self._handler = self._control = None

    # Routes

    async def attach(self, user_ids: Iterable[int]) -> None:
        """This node now holds connections of ``user_ids``."""
        users = set(user_ids) - self._local
        self._local |= users
        with contextlib.suppress(RedisError, OSError):  # the heartbeat registers them later
            await self._register(users)

    async def detach(self, user_ids: Iterable[int]) -> None:
        """This node no longer holds connections of ``user_ids``."""
        users = set(user_ids) & self._local
        self._local -= users
        try:
            await self._clear(users)
        except (RedisError, OSError):
            self._unrouted |= users  # cleared once Redis is back

    async def _register(self, users: set[int]) -> None:
        if not users:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in users:
                pipe.sadd(self._keys.route(user_id), self.node)
            pipe.sadd(self._keys.users_of(self.node), *users)
            await pipe.execute()

    async def _clear(self, users: Iterable[int]) -> None:
        users = list(users)
        if not users:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in users:
                pipe.srem(self._keys.route(user_id), self.node)
            pipe.srem(self._keys.users_of(self.node), *users)
            await pipe.execute()

    # Background work

    def _lost(self) -> None:
        """Something failed to reach Redis: deliveries may have been missed."""
        if self.healthy:
            log.warning("redis unreachable: serving this node's users only")
            self._trouble.set()  # the heartbeat starts recovering now
        self.healthy, self._recovering = False, True

    def _resubscribed(self, _connection: object) -> None:
        """redis-py connected the subscription again by itself: what was
        published while it was down reached nobody here. Recover."""
        log.warning("redis subscription was lost and is back: recovering")
        self._lost()

    async def _heartbeat(self) -> None:
        """Keep this node's liveness key; register every route again if Redis
        lost them (the key was gone). After any failure, once Redis answers
        and the subscription is up, recover (``on_recovered``: the caches
        are dropped, the presence written again, the stream read at once)."""
        while True:
            try:
                if await self._beat() or self._recovering:
                    await self._register(set(self._local))
                    await self._clear(self._unrouted - self._local)
                    self._unrouted.clear()
                if self._recovering and self._subscribed:
                    self.healthy, self._recovering = True, False
                    log.info("redis reachable again: recovering")
                    if self._on_recovered is not None:
                        self._on_recovered()
            except (RedisError, OSError):
                self._lost()
            self._trouble.clear()
            pause = RETRY_SECONDS if self._recovering else self._alive_ms / 3000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):  # wait_for may swallow a cancel
                    await self._trouble.wait()

    def _hand_over(self, channel: bytes, data: bytes) -> None:
        if channel == self._control_channel:
            if self._control is not None:
                self._control(decode_control(data))
        elif self._handler is not None:
            self._handler(_decode(data))

    async def _beat(self) -> bool:
        """Say this node is alive; whether Redis had forgotten it (it restarted
        without persistence, or the node was reaped as dead)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._keys.alive(self.node), "1", px=self._alive_ms, get=True)
            pipe.sadd(self._keys.nodes, self.node)
            previous, added = await pipe.execute()
        return previous is None or bool(added)

    async def _listen(self, subscribed: asyncio.Event) -> None:
        """Hand every message on this node's channel to the hub, and every
        control message to the node's handler of them; after a
        lost connection, try to subscribe again every ``RETRY_SECONDS``, so
        the subscription is back as soon as Redis answers (a refused
        connection costs nothing; a back-off of seconds would leave
        publications reaching no subscriber). (redis-py may also reconnect
        by itself: recovering is the heartbeat's.)"""
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._keys.channel(self.node), self._keys.control)
                if pubsub.connection is not None:  # its own reconnections, as ours
                    pubsub.connection.register_connect_callback(self._resubscribed)
                self._subscribed = True
                if not self._recovering:
                    self.healthy = True
                subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._hand_over(message["channel"], message["data"])
            except (RedisError, OSError):
                self._subscribed = False
                self._lost()
                subscribed.set()  # start anyway: the node serves its own users meanwhile
            finally:
                if pubsub.connection is not None:  # it goes back to the pool: not ours now
                    pubsub.connection.deregister_connect_callback(self._resubscribed)
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RETRY_SECONDS)
