"""The Redis broker: deliveries between nodes through Redis pub/sub.

Each node subscribes to its own channel, on one connection (not one per
socket). Which nodes hold a user's connections is a Redis set per user
(``route:{user}``), kept by ``attach``/``detach`` as the first socket of a
user opens on a node and the last one closes. ``publish`` reads the routes
of the recipients in one round trip and sends each node one message with the
recipients it holds, so a frame crosses Redis once per node, not once per
recipient. A delivery that says some cache is stale (a thread's members, a
device list, a practitioner's settings, a delegation) goes whole to every
node instead, on a channel all of them hear: every node caches.

A node's routes are also listed under the node (``node:{id}:users``): a
node starting again under the same id clears what it left, and a heartbeat
re-registers them all if Redis lost them (a restart without persistence).
While Redis is unreachable, a delivery reaches this node's own sockets only
(durable events are in the store: the others get them on resume) and the
node reports degraded;
when the subscription comes back, ``on_recovered`` runs so the node can
tell its clients to resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterable

import msgspec
import redis.asyncio as redis
from redis.exceptions import RedisError

from server.broker.base import Delivery, DeliveryHandler

__all__ = ["RedisBroker"]

log = logging.getLogger(__name__)

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(Delivery).decode
HEARTBEAT_SECONDS = 5.0
RETRY_SECONDS = 0.1  # the heartbeat's pace while recovering, and the first back-off
ALIVE_SECONDS = 15


class RedisBroker:
    def __init__(
        self,
        url: str,
        node: str | None = None,
        *,
        prefix: str = "carehub",
        on_recovered: Callable[[], None] | None = None,
    ) -> None:
        self.node = node or f"{socket.gethostname()}-{id(self):x}"
        self.healthy = False
        self._url = url
        self._prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._handler: DeliveryHandler | None = None
        self._on_recovered = on_recovered
        self._local: set[int] = set()  # users this node has registered routes for
        self._subscribed = False
        self._recovering = False  # a failure was seen: clients resume once Redis is back
        self._tasks: list[asyncio.Task[None]] = []

    # Keys

    def _channel(self, node: str) -> str:
        return f"{self._prefix}:node:{node}"

    @property
    def _everyone(self) -> str:
        return f"{self._prefix}:all"

    def _route(self, user_id: int) -> str:
        return f"{self._prefix}:route:{user_id}"

    @property
    def _mine(self) -> str:
        return f"{self._prefix}:node:{self.node}:users"

    @property
    def _alive(self) -> str:
        return f"{self._prefix}:node:{self.node}:alive"

    # The Broker interface

    async def start(self, handler: DeliveryHandler) -> None:
        self._handler = handler
        await self._forget_previous_run()
        subscribed = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._listen(subscribed), name="redis-listen"),
            asyncio.create_task(self._heartbeat(), name="redis-heartbeat"),
        ]
        await subscribed.wait()

    async def publish(self, delivery: Delivery) -> None:
        """Send ``delivery`` to each node holding one of its recipients."""
        try:
            if _invalidates(delivery):
                await self._redis.publish(self._everyone, _encode(delivery))
                return
            by_node = await self._nodes_of(delivery.recipients)
            if not by_node:
                return
            async with self._redis.pipeline(transaction=False) as pipe:
                for node, users in by_node.items():
                    part = msgspec.structs.replace(delivery, recipients=users)
                    pipe.publish(self._channel(node), _encode(part))
                await pipe.execute()
        except (RedisError, OSError):
            self._lost()
            if self._handler is not None:  # local users are still served
                self._handler(delivery)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await self._clear(self._local)
        await self._redis.aclose()
        self._handler = None

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
        with contextlib.suppress(RedisError, OSError):
            await self._clear(users)

    async def _register(self, users: set[int]) -> None:
        if not users:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in users:
                pipe.sadd(self._route(user_id), self.node)
            pipe.sadd(self._mine, *users)
            await pipe.execute()

    async def _clear(self, users: Iterable[int]) -> None:
        users = list(users)
        if not users:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in users:
                pipe.srem(self._route(user_id), self.node)
            pipe.srem(self._mine, *users)
            await pipe.execute()

    async def _forget_previous_run(self) -> None:
        """Routes a previous process with this node id left behind."""
        with contextlib.suppress(RedisError, OSError):
            left = [int(u) for u in await self._redis.smembers(self._mine)]
            await self._clear(left)

    async def _nodes_of(self, recipients: list[int]) -> dict[str, list[int]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id in recipients:
                pipe.smembers(self._route(user_id))
            found = await pipe.execute()
        by_node: dict[str, list[int]] = {}
        for user_id, nodes in zip(recipients, found, strict=True):
            for node in nodes:
                by_node.setdefault(node.decode(), []).append(user_id)
        return by_node

    # Background work

    def _lost(self) -> None:
        """Something failed to reach Redis: deliveries may have been missed."""
        if self.healthy:
            log.warning("redis unreachable: serving this node's users only")
        self.healthy, self._recovering = False, True

    async def _heartbeat(self) -> None:
        """Keep this node's liveness key; register every route again if Redis
        lost them (the key was gone). After any failure, once Redis answers
        and the subscription is up, recover: the node's clients resume, so
        what the live path missed meanwhile is replayed from storage."""
        while True:
            try:
                previous = await self._redis.set(self._alive, "1", ex=ALIVE_SECONDS, get=True)
                if previous is None or self._recovering:
                    await self._register(set(self._local))
                if self._recovering and self._subscribed:
                    self.healthy, self._recovering = True, False
                    log.info("redis reachable again: clients resume")
                    if self._on_recovered is not None:
                        self._on_recovered()
            except (RedisError, OSError):
                self._lost()
            await asyncio.sleep(RETRY_SECONDS if self._recovering else HEARTBEAT_SECONDS)

    async def _listen(self, subscribed: asyncio.Event) -> None:
        """Hand every message on this node's channels to the hub; after a
        lost connection, subscribe again with back-off. (redis-py may also
        reconnect by itself: recovering is the heartbeat's.)"""
        backoff = RETRY_SECONDS
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel(self.node), self._everyone)
                self._subscribed, backoff = True, RETRY_SECONDS
                if not self._recovering:
                    self.healthy = True
                subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and self._handler is not None:
                        self._handler(_decode(message["data"]))
            except (RedisError, OSError):
                self._subscribed = False
                self._lost()
                subscribed.set()  # start anyway: the node serves its own users meanwhile
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


def _invalidates(delivery: Delivery) -> bool:
    """Whether every node must see ``delivery`` (it makes caches stale)."""
    flags = (
        delivery.thread_changed,
        delivery.keys_changed,
        delivery.practice_changed,
        delivery.access_changed,
    )
    return any(flag is not None for flag in flags)
