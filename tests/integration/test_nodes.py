"""Several real carehub nodes sharing one PostgreSQL and one redis-server:
users spread over three nodes talk as if they were on one."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients import Client, Credentials, login, logout
from clients.e2e import Secure
from protocol.errors import CloseCode
from protocol.methods import Empty, PresenceSetParams, ReceiptParams
from protocol.model import PresenceStatus
from protocol.practice import UserParams
from tests.conftest import unavailable
from tests.support.postgres import create_database
from tests.support.server import PASSWORD, RunningServer, start_server
from tests.support.wire import greeted, ok

# Streams here are load, not abuse: lift the per-device send rate.
LOAD = {"sends_per_second": 1000, "send_burst": 1000, "calls_per_second": 1000, "call_burst": 1000}


def three_nodes(
    postgres: Any, redis_url: str, workdir: Path, **settings: object
) -> list[RunningServer]:
    """Three nodes on one new database, one Redis and one document volume,
    sharing the test's view of accounts and device keys."""
    db = create_database(postgres, f"n_{uuid.uuid4().hex[:12]}")
    settings = {**LOAD, "blob_dir": workdir / "blobs", **settings}
    started = [
        start_server(db, workdir, redis=redis_url, node_id=f"node{i}", **settings) for i in range(3)
    ]
    for node in started[1:]:
        node.usernames, node.keys = started[0].usernames, started[0].keys
    return started


@pytest.fixture
def nodes(postgres: Any, redis_server: Any, tmp_path: Path) -> Iterator[list[RunningServer]]:
    started = three_nodes(postgres, redis_server.url, tmp_path)
    yield started
    for node in started:
        node.stop()


@pytest.fixture
def own_redis() -> Iterator[Any]:
    """A redis-server of this test's own, since the test restarts it."""
    from tests.support.redis import RedisServer, find_redis

    if find_redis() is None:
        unavailable("redis-server not found (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.stop()


async def test_users_on_three_nodes_talk_as_if_on_one(nodes: list[RunningServer]) -> None:
    one, two, three = nodes
    doctor, patient, thread = await one.patient_thread()
    second_device = await one.other_device(doctor)
    async with (
        one.secure(doctor) as desk,
        three.secure(second_device) as phone,
        two.secure(patient) as ana,
    ):
        await desk.call("presence.set", PresenceSetParams(PresenceStatus.ONLINE, foreground=True))
        sent = await ana.send(thread, "Bonjour docteur")
        for device in (desk, phone):
            event = await device.next_event("message.new")
            opened = await device.read(event.data)
            assert (event.data.id, opened.body.text) == (sent.message_id, "Bonjour docteur")
        popup = await desk.next_event("notify")
        assert (popup.data.thread, popup.data.unread) == (thread, 1)  # not the notice
        await desk.call("receipts.read", ReceiptParams(thread, sent.thread_seq))
        receipt = await ana.next_event("receipt")
        while receipt.data.user == patient.user_id:  # her own, from sending (read up to it)
            receipt = await ana.next_event("receipt")
        assert (receipt.data.user, receipt.data.read_seq) == (doctor.user_id, sent.thread_seq)
        reply = await phone.send(thread, "Bonjour Ana")
        assert (await ana.next_event("message.new")).data.id == reply.message_id
        assert (await desk.next_event("message.new")).data.id == reply.message_id
        # A document uploaded through one node is read through the others.
        report = b"%PDF-1.7 results " * 1000
        ref = await ana.upload(thread, report, "results.pdf", "application/pdf")
        await ana.send(thread, "My results", documents=[ref])
        (got,) = (await desk.read((await desk.next_event("message.new")).data)).body.documents
        assert await desk.download(got) == report
        assert await phone.download_http(three.base_url, got) == report
    for node in nodes:
        async with httpx.AsyncClient() as http:
            health = (await http.get(f"{node.base_url}/healthz")).json()
        assert (health["broker"], health["broker_kind"]) == ("ok", "RedisBroker")


async def test_presence_is_one_view_over_the_nodes_and_a_dead_nodes_users_go_offline(
    postgres: Any, redis_server: Any, tmp_path: Path
) -> None:
    # A node silent for 1.5 s is dead (15 s by default).
    one, two, three = three_nodes(postgres, redis_server.url, tmp_path, node_timeout_seconds=1.5)
    try:
        doctor, patient, _ = await one.patient_thread()
        second_device = await one.other_device(doctor)

        async def next_of_doctor(client: Client) -> tuple[PresenceStatus, int | None]:
            while True:
                event = await client.next_event("presence")
                if event.data.user == doctor.user_id:
                    return event.data.status, event.data.last_seen

        async with two.client(patient) as ana:
            async with one.client(doctor) as desk:
                assert (await next_of_doctor(ana))[0] is PresenceStatus.ONLINE
                async with three.client(second_device, reconnect=False) as phone:
                    await phone.call("presence.set", PresenceSetParams(PresenceStatus.AWAY))
                    listed = await ana.call("presence.list", Empty())
                    assert [e.status for e in listed.contacts if e.user == doctor.user_id] == [
                        PresenceStatus.ONLINE  # online on one, away on three
                    ]
                    await desk.close()
                    # The phone alone: away. (Nothing came between: the phone's
                    # arrival changed nothing overall.)
                    assert (await next_of_doctor(ana))[0] is PresenceStatus.AWAY
                    assert three.process is not None
                    three.process.kill()  # SIGKILL: nobody says the phone left
                    status, last_seen = await next_of_doctor(ana)
                    assert status is PresenceStatus.OFFLINE and last_seen
            listed = await ana.call("presence.list", Empty())
            assert [e.status for e in listed.contacts if e.user == doctor.user_id] == [
                PresenceStatus.OFFLINE
            ]
    finally:
        for node in (one, two, three):
            node.stop()


class Stream:
    """A practitioner (not limited per day) sending ``count`` messages one
    after another, and the ids acknowledged so far."""

    def __init__(self, desk: Secure, thread: int, count: int) -> None:
        self.acknowledged: list[int] = []
        self._progress = asyncio.Condition()
        self._task = asyncio.create_task(self._run(desk, thread, count))

    async def _run(self, desk: Secure, thread: int, count: int) -> None:
        for i in range(count):
            self.acknowledged.append((await desk.send(thread, f"message {i}")).message_id)
            async with self._progress:
                self._progress.notify_all()

    async def reached(self, count: int) -> None:
        async with self._progress:
            await self._progress.wait_for(lambda: len(self.acknowledged) >= count)

    async def done(self) -> list[int]:
        await self._task
        return self.acknowledged


async def received_from(reader: Any, sender: Credentials, count: int) -> list[int]:
    """The ids of the next ``count`` messages ``sender`` sent that reach ``reader``."""
    received: list[int] = []
    while len(received) < count:
        event = await reader.next_event("message.new")
        if event.data.sender == sender.user_id:
            received.append(event.data.id)
    return received


async def test_a_node_killed_mid_stream_loses_nothing(nodes: list[RunningServer]) -> None:
    one, two, three = nodes
    doctor, patient, thread = await one.patient_thread()
    failover = Client([one.ws_url, two.ws_url], doctor)
    async with failover, three.secure(patient) as ana:
        stream = Stream(Secure(failover, one.keys[doctor.device_id]), thread, 40)
        await stream.reached(15)
        assert one.process is not None
        one.process.kill()  # SIGKILL, with sends in flight
        acknowledged = await stream.done()
        received = await received_from(ana, doctor, len(acknowledged))
        dropped = ana.client.stats.duplicates_dropped
    print(
        f"sent 40, acknowledged {len(acknowledged)}, received {len(received)},"
        f" duplicates dropped {dropped}, sender reconnects {failover.stats.reconnects}"
    )
    assert failover.url == two.ws_url and failover.stats.reconnects >= 1
    assert len(set(acknowledged)) == 40  # a retried send is stored once
    assert received == acknowledged  # each once, in thread order


async def test_a_graceful_stop_answers_the_calls_in_flight(nodes: list[RunningServer]) -> None:
    one, two, three = nodes
    doctor, patient, thread = await one.patient_thread()
    failover = Client([one.ws_url, two.ws_url], doctor)
    async with failover, three.secure(patient) as ana:
        desk = Secure(failover, one.keys[doctor.device_id])
        sends = [asyncio.create_task(desk.send(thread, f"message {i}")) for i in range(200)]
        await asyncio.wait(sends, return_when=asyncio.FIRST_COMPLETED)
        assert one.process is not None
        one.process.send_signal(signal.SIGTERM)  # 199 calls sent, most still unread
        results = await asyncio.gather(*sends)
        exit_code = await asyncio.to_thread(one.process.wait, 30)
        acknowledged = [result.message_id for result in results]
        received = await received_from(ana, doctor, len(acknowledged))
    resent = [result for result in results if result.duplicate]
    print(
        f"sent 200, acknowledged {len(set(acknowledged))}, received {len(received)},"
        f" resent {failover.stats.resent} (of which already stored: {len(resent)}),"
        f" closes {failover.stats.closes}, exit code {exit_code}"
    )
    assert exit_code == -signal.SIGTERM  # uvicorn re-raises the signal once it has stopped
    assert failover.stats.closes[0] == CloseCode.SERVER_SHUTDOWN
    assert resent == []  # each call the node took was answered before it closed
    assert sorted(received) == sorted(set(acknowledged)) and len(received) == 200


async def test_a_redis_restart_mid_stream_loses_nothing(
    postgres: Any, own_redis: Any, tmp_path: Path
) -> None:
    one, two, three = three_nodes(postgres, own_redis.url, tmp_path)
    try:
        doctor, patient, thread = await one.patient_thread()
        async with one.secure(doctor) as desk, two.secure(patient) as ana:
            stream = Stream(desk, thread, 30)
            await stream.reached(10)
            own_redis.stop_server()  # Redis goes away (and comes back empty)
            own_redis.start()
            acknowledged = await stream.done()
            received = await received_from(ana, doctor, len(acknowledged))
            reconnects = ana.client.stats.reconnects
        print(
            f"sent 30, acknowledged {len(acknowledged)}, received {len(received)},"
            f" reader reconnects {reconnects}"
        )
        assert received == acknowledged  # each once, in thread order
    finally:
        for node in (one, two, three):
            node.stop()


async def test_a_rolling_restart_under_load_loses_nothing(
    postgres: Any, redis_server: Any, tmp_path: Path
) -> None:
    nodes = three_nodes(postgres, redis_server.url, tmp_path)
    everywhere = [node.ws_url for node in nodes]
    try:
        doctor, patient, thread = await nodes[0].patient_thread()
        keys = nodes[0].keys
        async with (
            Client(everywhere, doctor) as sender,
            Client(everywhere[::-1], patient) as reader,
        ):
            stream = Stream(Secure(sender, keys[doctor.device_id]), thread, 60)
            for i, node in enumerate(list(nodes)):
                await stream.reached(10 * (i + 1))
                # SIGTERM (a graceful stop), then the same node again; sends go on meanwhile.
                await asyncio.to_thread(node.stop)
                settings = _settings(node, i)
                again = await asyncio.to_thread(
                    start_server, node.db, tmp_path, port=node.port, **settings
                )
                again.usernames, again.keys = node.usernames, node.keys
                nodes[i] = again
            acknowledged = await stream.done()
            received = await received_from(reader, doctor, len(acknowledged))
        print(
            f"sent 60, acknowledged {len(acknowledged)}, received {len(received)},"
            f" duplicates dropped {reader.stats.duplicates_dropped},"
            f" reconnects: sender {sender.stats.reconnects}, reader {reader.stats.reconnects}"
        )
        assert len(set(acknowledged)) == 60
        assert received == acknowledged  # each once, in thread order
    finally:
        for node in nodes:
            node.stop()


def _settings(node: RunningServer, index: int) -> dict[str, object]:
    return {"redis": node.env["CAREHUB_REDIS"], "node_id": f"node{index}", **LOAD}


async def test_logging_out_on_one_node_closes_the_tokens_sockets_on_the_others(
    nodes: list[RunningServer],
) -> None:
    one, two, three = nodes
    me = await one.user(publish_keys=False)
    username = one.usernames[me.user_id]
    other_token = await login(one.base_url, username, PASSWORD, device_id=me.device_id)
    async with greeted(two, me) as there, greeted(three, other_token) as elsewhere:
        await logout(one.base_url, me)
        assert await there.close_code() == CloseCode.TOKEN_REVOKED
        ok(await elsewhere.call(1, "threads.list", {}))  # the device's other token still works


async def test_deactivating_an_account_on_one_node_closes_its_sockets_on_every_node(
    nodes: list[RunningServer],
) -> None:
    one, two, three = nodes
    me = await one.user(publish_keys=False)
    phone = await login(one.base_url, one.usernames[me.user_id], PASSWORD, device_name="phone")
    async with (
        greeted(two, me) as there,
        greeted(three, phone) as elsewhere,
        one.client(await one.admin()) as admin,
    ):
        await admin.call("admin.deactivate", UserParams(me.user_id))
        assert await there.close_code() == CloseCode.TOKEN_REVOKED
        assert await elsewhere.close_code() == CloseCode.TOKEN_REVOKED


async def test_a_logout_while_redis_is_down_still_closes_the_sockets_on_the_others(
    postgres: Any, own_redis: Any, tmp_path: Path
) -> None:
    """The logout's publication is lost with Redis; once Redis is back, the
    other nodes look the tokens of their sockets up and close the revoked."""
    one, two, three = three_nodes(postgres, own_redis.url, tmp_path)
    try:
        me = await one.user(publish_keys=False)
        async with greeted(two, me) as there:
            own_redis.stop_server()
            await logout(one.base_url, me)
            own_redis.start()
            assert await there.close_code() == CloseCode.TOKEN_REVOKED
    finally:
        for node in (one, two, three):
            node.stop()
