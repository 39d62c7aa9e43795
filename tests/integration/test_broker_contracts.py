"""What the nodes share beside the broker, one contract per interface, each
run against its local implementation (one node: ``MemoryBroker`` hands them
out) and its Redis one (a real redis-server): presence (``PresenceBoard``),
rate limits (``Limiter``), leases (``Leases``). Then what only Redis can
show: several nodes see the same, and without Redis each node falls back
on its own view."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from protocol.methods import PresenceEntry
from protocol.model import PresenceStatus
from server.broker import Broker, MemoryBroker
from server.broker.redis import RedisBroker
from server.broker.shared import BrokerDown
from server.ratelimit import Limit

ONLINE, AWAY, OFFLINE = PresenceStatus.ONLINE, PresenceStatus.AWAY, PresenceStatus.OFFLINE

MakeNode = Callable[[], Awaitable[Broker]]


@pytest.fixture(params=["local", "redis"])
async def make_node(request: pytest.FixtureRequest) -> AsyncIterator[MakeNode]:
    """Started brokers of one deployment, for what they hand out."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    started: list[Broker] = []

    async def make() -> Broker:
        if request.param == "local":
            broker: Broker = MemoryBroker()
        else:
            url = request.getfixturevalue("redis_server").url
            broker = RedisBroker(url, f"node{len(started)}", prefix=prefix)
        await broker.start(lambda delivery: None, lambda message: None)
        started.append(broker)
        return broker

    yield make
    for broker in started:
        await broker.stop()


redis_only = pytest.mark.parametrize("make_node", ["redis"], indirect=True)


async def test_the_presence_board_contract(make_node: MakeNode) -> None:
    board = (await make_node()).presence
    assert await board.put(1, ONLINE, now=1000) == PresenceEntry(1, ONLINE, 1000)
    assert await board.put(1, ONLINE, now=2000) is None  # no change, nothing to tell
    assert await board.put(1, AWAY, now=3000) == PresenceEntry(1, AWAY, 3000)
    assert await board.get([1, 2]) == [PresenceEntry(1, AWAY, 3000), PresenceEntry(2, OFFLINE)]
    assert await board.put(1, OFFLINE, now=4000) == PresenceEntry(1, OFFLINE, 4000)
    assert await board.get([1]) == [PresenceEntry(1, OFFLINE, 4000)]  # last seen stays
    await board.put_devices(1, frozenset({10, 11}))
    await board.put_devices(2, frozenset({20}))
    assert await board.devices([1, 2, 3]) == {10, 11, 20}
    await board.put_devices(1, frozenset())
    assert await board.devices([1, 2]) == {20}
    assert await board.reap(now=5000) == []  # no node stopped without a word


async def test_the_limiter_contract(make_node: MakeNode) -> None:
    limits = (await make_node()).limits
    calls, sends = ("calls:1", Limit(rate=2, burst=3)), ("sends:1", Limit(rate=1, burst=1))
    assert [await limits.take(calls) for _ in range(3)] == [0, 0, 0]
    assert await limits.take(calls) == pytest.approx(0.5, abs=0.05)
    assert await limits.take(sends) == 0
    assert await limits.take(sends) == pytest.approx(1.0, abs=0.05)
    other = ("calls:2", Limit(rate=2, burst=1))
    assert await limits.take(other, sends) > 0  # all or none: the refusal spent nothing
    assert await limits.take(other) == 0


async def test_the_leases_contract(make_node: MakeNode) -> None:
    leases = (await make_node()).leases
    assert await leases.hold("reminders", 30)
    assert await leases.hold("reminders", 30)  # kept by its holder
    assert await leases.hold("push", 30)  # each lease on its own
    await leases.release("reminders")
    assert await leases.hold("reminders", 30)  # released, and taken again


@redis_only
async def test_a_user_on_two_nodes_is_as_present_as_the_most_present(
    make_node: MakeNode,
) -> None:
    a, b = (await make_node()).presence, (await make_node()).presence
    assert await a.put(1, AWAY, now=1) == PresenceEntry(1, AWAY, 1)
    assert await b.put(1, ONLINE, now=2) == PresenceEntry(1, ONLINE, 2)
    assert await a.put(1, OFFLINE, now=3) is None  # still online on b
    assert await a.get([1]) == [PresenceEntry(1, ONLINE, 2)]
    assert await b.put(1, OFFLINE, now=4) == PresenceEntry(1, OFFLINE, 4)
    await a.put_devices(1, frozenset({10}))
    await b.put_devices(1, frozenset({11}))
    assert await a.devices([1]) == await b.devices([1]) == {10, 11}


@redis_only
async def test_nodes_spend_from_one_bucket(make_node: MakeNode) -> None:
    a, b = (await make_node()).limits, (await make_node()).limits
    login = ("login:ana", Limit(rate=0.1, burst=2))
    assert await a.take(login) == 0
    assert await b.take(login) == 0
    assert await a.take(login) > 9  # the burst was spent on two nodes
    assert await b.take(login) > 9


@redis_only
async def test_a_lease_passes_on_release_or_expiry(make_node: MakeNode) -> None:
    a, b = (await make_node()).leases, (await make_node()).leases
    assert await a.hold("reminders", 30)
    assert not await b.hold("reminders", 30)
    await a.release("reminders")
    assert await b.hold("reminders", 0.05)
    assert not await a.hold("reminders", 30)
    await asyncio.sleep(0.06)  # b does not renew: the time passing is the event
    assert await a.hold("reminders", 30)
    assert not await b.hold("reminders", 30)


async def test_without_redis_the_shared_state_falls_back_to_the_node() -> None:
    broker = RedisBroker("redis://127.0.0.1:9/0", "alone", prefix="nowhere")  # nothing listens
    try:
        login = ("login:ana", Limit(rate=0.1, burst=1))
        assert await broker.limits.take(login) == 0  # limited by this node alone
        assert await broker.limits.take(login) > 9
        assert await broker.leases.hold("reminders", 30)  # the chores are safe twice
        with pytest.raises(BrokerDown):
            await broker.presence.put(1, ONLINE, now=1)  # the node answers from its own view
    finally:
        await broker.stop()
