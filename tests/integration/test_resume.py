"""Nothing is lost across disconnects: resume, retries, devices, slow consumers."""

from __future__ import annotations

import asyncio
import socket

import msgspec
import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from clients import Client, Credentials
from clients.e2e import Secure
from protocol.errors import CloseCode
from protocol.methods import Empty, HistoryParams, ThreadsOpenParams
from protocol.model import ThreadKind
from protocol.practice import InboxSettings
from storage import Store
from storage.events import REPLAY_PAGE
from tests.support.server import RunningServer
from tests.support.wire import greeted


async def received_messages(client: Secure, count: int, timeout: float = 20) -> list[str]:
    """The texts of the next ``count`` messages, each verified and decrypted
    (server notices are skipped)."""
    got = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            event = await client.next_event("message.new", timeout=timeout)
            if event.data.kind != "notice":
                got.append((await client.open(event.data)).body.text)
    return got


async def test_resume_after_disconnect_delivers_missed_events_once(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(patient) as sender:
        async with server.secure(doctor) as first:
            await sender.send(thread, "before")
            assert await received_messages(first, 1) == ["before"]
            cursor = first.client.cursor
        for i in range(5):
            await sender.send(thread, f"missed-{i}")
        async with server.secure(doctor, resume_from=cursor) as again:
            assert again.client.welcome is not None and again.client.welcome.resumed
            assert await received_messages(again, 5) == [f"missed-{i}" for i in range(5)]
            await sender.send(thread, "live")
            assert await received_messages(again, 1) == ["live"]
            assert again.client.stats.duplicates_dropped == 0


async def test_a_backlog_longer_than_a_page_arrives_whole_in_order_then_live(
    make_server,  # type: ignore[no-untyped-def]
) -> None:
    """More than ``REPLAY_PAGE`` events missed: the replay reads page after
    page, and the messages sent while it runs arrive after it, each once."""
    server: RunningServer = make_server(
        sends_per_second=10_000, send_burst=10_000, calls_per_second=10_000, call_burst=10_000
    )
    doctor, patient, thread = await server.patient_thread()
    missed, live = REPLAY_PAGE + 20, 5
    async with server.secure(patient) as sender:
        async with server.secure(doctor) as desk:
            await desk.call("inbox.set", InboxSettings(max_daily_messages=missed + live))
            cursor = desk.client.cursor
        for i in range(missed):
            await sender.send(thread, f"missed-{i}")
        async with server.secure(doctor, resume_from=cursor) as again:
            sending = asyncio.gather(*(sender.send(thread, f"live-{i}") for i in range(live)))
            got = await received_messages(again, missed + live, timeout=60)
            await sending
            assert again.client.stats.duplicates_dropped == 0
    assert got[:missed] == [f"missed-{i}" for i in range(missed)]
    assert sorted(got[missed:]) == [f"live-{i}" for i in range(live)]


async def test_a_device_is_not_replayed_its_own_messages(server: RunningServer) -> None:
    """A device that sends has what it sent: on resume it gets the others'
    messages, and none of its own (it had hundreds replayed at each reconnect)."""
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(patient) as ana:
        cursor = ana.client.cursor
        for i in range(3):
            await ana.send(thread, f"mine-{i}")
    async with server.secure(doctor) as desk:
        await desk.send(thread, "the answer")
    async with server.secure(patient, resume_from=cursor) as again:
        assert await received_messages(again, 1) == ["the answer"]  # not "mine-0"
        assert again.client.stats.duplicates_dropped == 0


async def test_client_reconnects_by_itself_and_resends_unacknowledged(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(doctor) as receiver, server.secure(patient) as sender:
        assert sender.client._ws is not None
        sender.client._ws.transport.abort()  # the network drops
        sends = [asyncio.create_task(sender.send(thread, f"m{i}")) for i in range(10)]
        results = await asyncio.gather(*sends)
        assert sender.client.stats.reconnects >= 1
        assert sorted(r.thread_seq for r in results) == list(range(2, 12))  # 1: the notice
        got = await received_messages(receiver, 10)
        assert sorted(got) == sorted(f"m{i}" for i in range(10))
        page = await receiver.call("messages.history", HistoryParams(thread, limit=50))
        assert len(page.messages) == 11  # and the emergency notice


async def test_retried_send_is_stored_once(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    members = [doctor.user_id, patient.user_id]
    renewal = server.envelope(patient, thread, members, "renewal")
    following = server.envelope(patient, thread, members, "next")
    async with server.client(patient) as sender, server.secure(doctor) as receiver:
        first = await sender.send(thread, renewal.data, client_msg_id=renewal.msg_id.hex())
        again = await sender.send(thread, renewal.data, client_msg_id=renewal.msg_id.hex())
        assert again.duplicate and not first.duplicate
        assert (again.message_id, again.thread_seq) == (first.message_id, first.thread_seq)
        await sender.send(thread, following.data, client_msg_id=following.msg_id.hex())
        assert await received_messages(receiver, 2) == ["renewal", "next"]
        page = await receiver.call("messages.history", HistoryParams(thread))
        ids = [following.msg_id.hex(), renewal.msg_id.hex()]
        assert [m.client_msg_id for m in page.messages if m.kind != "notice"] == ids


async def test_every_device_of_every_member_receives(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    doctor_phone = await server.other_device(doctor)
    patient_tablet = await server.other_device(patient)
    async with (
        server.secure(doctor) as desk,
        server.secure(doctor_phone) as phone,
        server.secure(patient) as sender,
        server.secure(patient_tablet) as tablet,
    ):
        sent = await sender.send(thread, "hello")
        for device in (desk, phone, tablet):
            event = await device.next_event("message.new")
            assert event.data.id == sent.message_id
            assert (await device.open(event.data)).body.text == "hello"
        # The sending connection has its result and gets no echo.
        with pytest.raises(TimeoutError):
            await sender.next_event("message.new", timeout=0.3)


async def test_concurrent_senders_and_a_flapping_reader_lose_nothing(
    server: RunningServer,
) -> None:
    """Many sends commit concurrently while a reader keeps dropping its link:
    every message arrives exactly once, in thread order."""
    doctor = await server.user("practitioner")
    patients = [await server.user("patient") for _ in range(4)]
    threads = {}
    async with server.secure(doctor) as reader:
        await reader.call("inbox.set", InboxSettings(max_daily_messages=100))
        for p in patients:
            await server.add_patient(doctor, p)
            async with server.client(p) as c:
                info = await c.call(
                    "threads.open",
                    ThreadsOpenParams(
                        ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], "exam_results"
                    ),
                )
                threads[p.user_id] = info.id
        await reader.next_event("thread.updated")
        senders = [server.client(p) for p in patients]
        for s in senders:
            await s.connect()

        async def burst(client: Client) -> None:
            thread = threads[client.user_id]
            members = [client.user_id, doctor.user_id]
            for i in range(25):
                sealed = server.envelope(client.credentials, thread, members, f"{i}")
                await client.send(thread, sealed.data, client_msg_id=sealed.msg_id.hex())

        async def flap() -> None:
            for _ in range(5):
                await asyncio.sleep(0.05)
                assert reader.client._ws is not None
                reader.client._ws.transport.abort()

        await asyncio.gather(*(burst(s) for s in senders), flap())
        got: dict[int, list[int]] = {}
        async with asyncio.timeout(30):
            while sum(len(v) for v in got.values()) < 100:
                event = await reader.next_event("message.new")
                if event.data.kind != "notice":
                    got.setdefault(event.data.thread, []).append(event.data.thread_seq)
        for s in senders:
            await s.close()
    assert all(seqs == list(range(2, 27)) for seqs in got.values()), got  # 1: the notice
    assert reader.client.stats.reconnects >= 1


async def test_slow_consumer_is_cut_off_while_others_keep_receiving(make_server) -> None:
    server: RunningServer = make_server(
        send_queue_bytes=256 * 1024,
        sends_per_second=10_000,
        send_burst=10_000,
        calls_per_second=10_000,
        call_burst=10_000,
    )
    doctor, patient, thread = await server.patient_thread()
    slow_creds = await server.other_device(doctor)
    slow = await StalledClient.connect(server, slow_creds)
    count, body = 200, "x" * 60_000
    async with server.secure(doctor) as fast, server.secure(patient) as sender:
        await fast.call("inbox.set", InboxSettings(max_daily_messages=count))
        # The slow device never reads; the fast one reads everything.
        for i in range(count):
            await sender.send(thread, body + str(i))
        assert len(await received_messages(fast, count, timeout=60)) == count
    assert await slow.close_code() == CloseCode.SLOW_CONSUMER
    # It resumes from its cursor and gets everything it missed.
    async with server.secure(slow_creds, resume_from=slow.welcome["cursor"]) as resumed:
        assert len(await received_messages(resumed, count, timeout=60)) == count


class StalledClient:
    """A WebSocket client that says hello and then stops reading, with a small
    fixed receive buffer so the kernel cannot absorb the backlog."""

    def __init__(self, sock: socket.socket, protocol: ClientProtocol) -> None:
        self.sock, self.protocol = sock, protocol
        self.welcome: dict[str, object] = {}

    @classmethod
    async def connect(cls, server: RunningServer, credentials: Credentials) -> StalledClient:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", server.port))
        protocol = ClientProtocol(
            parse_uri(server.ws_url), subprotocols=[Subprotocol("carehub.v1")]
        )
        protocol.send_request(protocol.connect())
        client = cls(sock, protocol)
        await client._flush()
        async with asyncio.timeout(10):
            while protocol.state is not State.OPEN:
                protocol.receive_data(await loop.sock_recv(sock, 65536))
        hello = {
            "t": "hello",
            "versions": [1],
            "token": credentials.token,
            "device": credentials.device_id,
        }
        protocol.send_binary(msgspec.msgpack.encode(hello))
        await client._flush()
        client.welcome = msgspec.msgpack.decode(await client._next_frame())
        return client

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        for data in self.protocol.data_to_send():
            await loop.sock_sendall(self.sock, data)

    async def _next_frame(self) -> bytes:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(10):
            while True:
                for event in self.protocol.events_received():
                    if isinstance(event, Frame) and event.opcode is Opcode.BINARY:
                        return bytes(event.data)
                self.protocol.receive_data(await loop.sock_recv(self.sock, 65536))

    async def close_code(self) -> int | None:
        """Read the backlog to its end and return the close code found there."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(30):
                while True:
                    for event in self.protocol.events_received():
                        if isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                            return (
                                self.protocol.close_rcvd.code if self.protocol.close_rcvd else None
                            )
                    data = await loop.sock_recv(self.sock, 1 << 20)
                    if not data:
                        return None
                    self.protocol.receive_data(data)
        finally:
            self.sock.close()


async def test_cursor_past_retention_gets_sync_reset(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    async with server.client(doctor) as first:
        cursor = first.cursor
    async with server.secure(patient) as sender:
        await sender.send(thread, "soon pruned")
    store = Store(server.db)  # what the retention task does, made deterministic
    try:
        assert await store.events.prune(created_before=2**62) >= 1
        floor = await store.events.floor()
    finally:
        await store.close()
    assert cursor is not None and cursor < floor
    async with server.secure(doctor, resume_from=cursor) as again:
        reset = await again.next_event("sync.reset", "message.new")
        assert reset.type == "sync.reset" and reset.data.cursor >= floor
        history = await again.call("messages.history", HistoryParams(thread))
        texts = [(await again.open(m)).body.text for m in history.messages if m.kind != "notice"]
        assert texts == ["soon pruned"]


async def test_an_idle_devices_cursor_follows_the_stream_through_pings(make_server) -> None:  # type: ignore[no-untyped-def]
    """Events for others move the stream on; a live socket's pings say how
    far, so an idle device resumes from there (a cheap replay, and no
    ``sync.reset`` once the events it never saw are pruned)."""
    server: RunningServer = make_server(heartbeat_seconds=0.4)
    bystander = await server.user("patient")
    doctor, patient, thread = await server.patient_thread()
    async with greeted(server, bystander) as idle, server.client(bystander) as sdk:
        async with server.secure(doctor) as desk, server.secure(patient) as ana:
            await ana.send(thread, "not for the bystander")
            moved_to = (await desk.next_event("message.new")).seq
        assert moved_to is not None and moved_to > idle.welcome["cursor"]
        async with asyncio.timeout(10):
            while True:  # only pings reach the bystander, until one says the stream moved
                frame = await idle.receive()
                assert frame["t"] == "ping", frame
                await idle.send({"t": "pong", "ts": frame.get("ts", 0)})
                if frame.get("cursor", 0) >= moved_to:
                    break
        # The same heartbeat queued the SDK's ping then: a call made now is
        # answered after it, and the SDK took its cursor.
        await sdk.call("presence.list", Empty())
        assert sdk.cursor is not None and sdk.cursor >= moved_to
    async with greeted(server, bystander, resume_from=frame["cursor"]) as again:
        assert again.welcome["resumed"]
        ping = await again.receive()
        assert ping["t"] == "ping"  # nothing to replay, and no sync.reset
