"""One contract for both brokers (in-memory, and Redis against a real
redis-server): a node gets the deliveries of the users it attached, whole
and in the order one node published them; with Redis, only the nodes of a
delivery's recipients get it, and a node that detached gets nothing more.
A control message reaches every node once, the publishing one included,
in the order of that node's deliveries. The state nodes share beside the
broker (presence, rate limits, leases) has its contracts in
``test_broker_contracts``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis

from protocol.methods import PresenceEntry
from protocol.model import PresenceStatus
from server.broker import Broker, Delivery, MemoryBroker
from server.broker.control import AccessChanged, Control, KeysChanged, SessionsEnded, ThreadChanged
from server.broker.redis import RedisBroker
from tests.conftest import unavailable


class Node:
    """A broker and what it handed over: deliveries and control messages."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.heard: list[Delivery | Control] = []
        self.arrived = asyncio.Event()

    def hear(self, message: Delivery | Control) -> None:
        self.heard.append(message)
        self.arrived.set()

    async def start(self) -> None:
        await self.broker.start(self.hear, self.hear)

    @property
    def got(self) -> list[Delivery]:
        return [message for message in self.heard if isinstance(message, Delivery)]

    @property
    def controls(self) -> list[Control]:
        return [message for message in self.heard if not isinstance(message, Delivery)]

    async def wait_for(self, count: int) -> list[Delivery]:
        """The deliveries, once ``count`` came."""
        await self.wait_heard(lambda: len(self.got) >= count)
        return self.got

    async def wait_heard(self, done: Callable[[], bool]) -> None:
        while not done():
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 5)


@pytest.fixture(params=["memory", "redis"])
async def make_node(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Any]]:
    """Nodes of one deployment (for Redis: one key prefix, many nodes)."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    started: list[Node] = []

    async def make() -> Node:
        if request.param == "memory":
            broker: Broker = MemoryBroker()
        else:
            url = request.getfixturevalue("redis_server").url
            broker = RedisBroker(url, f"node{len(started)}", prefix=prefix)
        node = Node(broker)
        await node.start()
        started.append(node)
        return node

    yield make
    for node in started:
        await node.broker.stop()


async def test_a_delivery_reaches_the_node_of_its_recipient_whole(make_node: Any) -> None:
    node = await make_node()
    await node.broker.attach([1])
    sent = Delivery([1], b"frame", seq=7, exclude_session="s", thread=3, foreground_only=True)
    await node.broker.publish(sent)
    assert await node.wait_for(1) == [sent]
    assert node.broker.healthy


async def test_one_nodes_deliveries_keep_their_order(make_node: Any) -> None:
    node = await make_node()
    await node.broker.attach([1, 2])
    for seq in range(1, 201):
        await node.broker.publish(Delivery([1, 2], f"f{seq}".encode(), seq=seq))
    got = await node.wait_for(200)
    assert [d.seq for d in got] == list(range(1, 201))


@pytest.mark.parametrize("make_node", ["redis"], indirect=True)
async def test_a_delivery_reaches_only_the_nodes_of_its_recipients(make_node: Any) -> None:
    a, b, c, d = await make_node(), await make_node(), await make_node(), await make_node()
    await a.broker.attach([1])
    await b.broker.attach([2, 3])
    await c.broker.attach([3])  # the user has devices on two nodes
    await d.broker.attach([5])
    await a.broker.publish(Delivery([1, 2, 3, 4], b"frame", seq=1))
    for node in (a, b, c):
        assert [d.frame for d in await node.wait_for(1)] == [b"frame"]  # once each
    await b.broker.detach([2, 3])
    await a.broker.publish(Delivery([1, 2, 3], b"again", seq=2))
    assert [d.frame for d in await c.wait_for(2)] == [b"frame", b"again"]
    assert [d.frame for d in await a.wait_for(2)] == [b"frame", b"again"]
    await a.broker.publish(Delivery([5], b"for d", seq=3))
    assert [d.frame for d in await d.wait_for(1)] == [b"for d"]  # after all of the above
    assert len(b.got) == 1  # detached: nothing more
    assert len(c.got) == 2


async def test_a_node_restarting_under_its_name_clears_what_it_left(redis_server: Any) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    raw = redis.Redis.from_url(redis_server.url)
    # What a crashed "node0" left: a route for user 5 and its list of users.
    await raw.sadd(f"{prefix}:route:5", "node0")
    await raw.sadd(f"{prefix}:node:node0:users", 5)
    again = RedisBroker(redis_server.url, "node0", prefix=prefix)
    node = Node(again)
    await node.start()
    try:
        assert await raw.smembers(f"{prefix}:route:5") == set()
        await again.attach([6])
        await again.publish(Delivery([5], b"for 5", seq=1))
        await again.publish(Delivery([6], b"for 6", seq=2))
        assert [d.frame for d in await node.wait_for(1)] == [b"for 6"]  # 5 is not routed here
    finally:
        await again.stop()
        await raw.aclose()


async def test_a_control_message_reaches_its_own_node_once(make_node: Any) -> None:
    node = await make_node()
    sent = ThreadChanged(9, [1, 2])
    await node.broker.publish_control(sent)
    await node.wait_heard(lambda: len(node.controls) >= 1)
    assert node.controls == [sent]
    assert node.got == []  # no socket sees it


@pytest.mark.parametrize("make_node", ["redis"], indirect=True)
async def test_a_control_message_reaches_every_node_once(make_node: Any) -> None:
    a, b, c = await make_node(), await make_node(), await make_node()
    await a.broker.attach([1])  # b and c hold nobody, and still drop their caches
    await a.broker.publish_control(KeysChanged(1))
    await a.broker.publish_control(SessionsEnded(1, [b"hash"], "logged out"))
    for node in (a, b, c):
        await node.wait_heard(lambda node=node: len(node.controls) >= 2)
        assert node.controls == [KeysChanged(1), SessionsEnded(1, [b"hash"], "logged out")]


async def test_control_messages_keep_their_place_among_deliveries(make_node: Any) -> None:
    """What a node relies on: the caches a commit made stale are dropped
    before that commit's events are handed to its hub."""
    node = await make_node()
    await node.broker.attach([1])
    sent: list[Delivery | Control] = []
    for seq in range(1, 51):
        sent += (AccessChanged(seq), Delivery([1], b"event", seq=seq))
    for message in sent:
        if isinstance(message, Delivery):
            await node.broker.publish(message)
        else:
            await node.broker.publish_control(message)
    await node.wait_heard(lambda: len(node.heard) >= len(sent))
    assert node.heard == sent


async def test_a_publication_no_subscriber_heard_is_counted(redis_server: Any) -> None:
    """A route to a node with no subscription (dead, or cut off): counted."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(redis_server.url, "alive", prefix=prefix)
    node = Node(broker)
    await node.start()
    try:
        await broker.attach([1])
        async with redis.Redis.from_url(redis_server.url) as raw:
            await raw.sadd(f"{prefix}:route:1", "ghost")
        await broker.publish(Delivery([1], b"frame", seq=1))
        assert [d.frame for d in await node.wait_for(1)] == [b"frame"]
        assert broker.unheard == 1
    finally:
        await broker.stop()


async def test_a_heartbeat_woken_as_it_is_cancelled_ends(redis_server: Any) -> None:
    """A failure wakes the heartbeat in the instant it is cancelled (the
    node stops): one cancel ends it. Python 3.11's ``asyncio.wait_for``
    returned the wake-up and dropped the cancel."""
    broker = RedisBroker(redis_server.url, "stopping", prefix=f"test-{uuid.uuid4().hex[:8]}")
    await Node(broker).start()
    try:
        for _ in range(1000):  # until the heartbeat waits for its next beat
            if broker._trouble._waiters:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.01)
        beating = broker._beating
        assert beating is not None
        broker._trouble.set()  # what a failed publish does
        beating.cancel()
        done, _ = await asyncio.wait({beating}, timeout=10)
        assert done
    finally:
        await broker.stop()


async def test_a_node_whose_subscription_was_cut_subscribes_again(redis_server: Any) -> None:
    """Redis drops the node's pub/sub connection but answers: the node
    subscribes again at once and recovers (its caches and its stream)."""
    recovered = asyncio.Event()
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(redis_server.url, "cut", prefix=prefix, on_recovered=recovered.set)
    node = Node(broker)
    await node.start()
    try:
        await broker.attach([1])
        async with redis.Redis.from_url(redis_server.url) as raw:
            await raw.client_kill_filter(_type="pubsub")
        await broker.publish(Delivery([1], b"maybe lost", seq=1))
        await asyncio.wait_for(recovered.wait(), 5)
        await broker.publish(Delivery([1], b"heard", seq=2))
        while b"heard" not in [d.frame for d in node.got]:  # "maybe lost" may come first
            await node.wait_for(len(node.got) + 1)
        assert broker.healthy
    finally:
        await broker.stop()


async def test_without_redis_a_node_serves_its_own_users_then_recovers() -> None:
    from tests.support.redis import RedisServer, find_redis

    if find_redis() is None:
        unavailable("redis-server not found (apt-get install redis-server)")
    redis_server = RedisServer().start()
    recovered = asyncio.Event()
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(redis_server.url, "alone", prefix=prefix, on_recovered=recovered.set)
    node = Node(broker)
    try:
        await node.start()
        await broker.attach([1])
        redis_server.stop_server()  # an outage, and Redis comes back empty
        await broker.publish(Delivery([1], b"local", seq=1))
        assert [d.frame for d in await node.wait_for(1)] == [b"local"]
        await broker.publish_control(
            SessionsEnded(1, [b"hash"], "logged out")
        )  # this node's sockets close
        assert node.controls == [SessionsEnded(1, [b"hash"], "logged out")]
        assert not broker.healthy
        redis_server.start()
        await asyncio.wait_for(recovered.wait(), 15)  # then the node's clients resume
        assert broker.healthy
        await broker.publish(Delivery([1], b"routed again", seq=2))
        assert [d.frame for d in await node.wait_for(2)][-1] == b"routed again"
    finally:
        await broker.stop()
        redis_server.stop()


ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE


@pytest.mark.parametrize("make_node", ["redis"], indirect=True)
async def test_a_crashed_nodes_users_go_offline_by_themselves(
    make_node: Any, redis_server: Any
) -> None:
    a, b = await make_node(), await make_node()
    await a.broker.attach([1, 2])
    await a.broker.presence.put(1, ONLINE, now=1)
    await b.broker.attach([2])
    await a.broker.presence.put(2, ONLINE, now=1)
    await b.broker.presence.put(2, AWAY, now=1)
    assert await b.broker.presence.reap(now=5) == []  # everyone is alive
    crash(a.broker)
    raw = redis.Redis.from_url(redis_server.url)
    await raw.delete(f"{a.broker._keys.prefix}:node:node0:alive")  # its expiry, come early
    await raw.aclose()
    # Read at once as offline (and 2 as away, from b), before anyone reaps:
    assert [e.status for e in await b.broker.presence.get([1, 2])] == [OFFLINE, AWAY]
    # The reaper tells who changed, once; the dead node's routes are gone.
    reaped = sorted(await b.broker.presence.reap(now=9), key=lambda entry: entry.user)
    assert reaped == [PresenceEntry(1, OFFLINE, 9), PresenceEntry(2, AWAY, 9)]
    assert await b.broker.presence.reap(now=10) == []
    await b.broker.publish(Delivery([1], b"for 1", seq=1))
    await b.broker.publish(Delivery([2], b"for 2", seq=2))
    assert [d.frame for d in await b.wait_for(1)] == [b"for 2"]
    raw = redis.Redis.from_url(redis_server.url)
    prefix = a.broker._keys.prefix
    assert await raw.smembers(f"{prefix}:route:1") == set()  # routed nowhere now
    assert await raw.smembers(f"{prefix}:route:2") == {b"node1"}
    await raw.aclose()


def crash(broker: Any) -> None:
    """Stop a Redis broker's background work without a word (what SIGKILL does)."""
    for task in (broker._listener, broker._beating):
        task.cancel()
