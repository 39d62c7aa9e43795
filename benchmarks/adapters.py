"""Generator-side protocol of each target, over picows.

picows (Cython) parses frames several times faster than a pure-Python
client, which is what keeps one generator core ahead of the server core.
Each adapter turns a published ``Stamp`` into that target's message and a
received message back into the payload the ``Recorder`` reads.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any, ClassVar

import msgspec
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from benchmarks.plan import Stamp
from protocol.codec import SUBPROTOCOL, BrokenError
from protocol.e2e import (
    ENVELOPE_VERSION,
    GROUP_ENVELOPE_VERSION,
    SENDER_KEY_VERSION,
    SENDER_KEYS_ABOVE,
    Envelope,
    GroupHeader,
    Header,
    Recipient,
    SenderKey,
    SignedSenderKey,
)
from protocol.frames import Error, Event, Result
from protocol.session import (
    ClientSession,
    EventReceived,
    Refused,
    ReplyReceived,
    SessionEvent,
    Welcomed,
)

__all__ = ["ADAPTERS", "Endpoint", "Recorder", "open_link"]

_BINARY = struct.Struct("<qIII")


def binary_payload(stamp: Stamp, size: int) -> bytes:
    head = _BINARY.pack(stamp.sent_ns, stamp.step, stamp.link, stamp.number)
    return head + b"\0" * max(0, size - len(head))


def text_payload(stamp: Stamp, size: int) -> str:
    head = f"{stamp.sent_ns}:{stamp.step}:{stamp.link}:{stamp.number}:"
    return head + "x" * max(0, size - len(head))


def read_binary(payload: bytes) -> tuple[int, int]:
    sent_ns, step, _, _ = _BINARY.unpack_from(payload)
    return sent_ns, step


def read_text(payload: str) -> tuple[int, int]:
    sent_ns, step, _ = payload.split(":", 2)
    return int(sent_ns), int(step)


class Recorder:
    """What one worker saw: per-step latencies (µs) of deliveries and acks."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self.clock = clock
        self.latency: dict[int, list[int]] = {}
        self.acks: dict[int, list[int]] = {}
        self.errors: dict[str, int] = {}
        self.closes: dict[int, int] = {}

    def delivered(self, sent_ns: int, step: int) -> None:
        self.latency.setdefault(step, []).append((self.clock() - sent_ns) // 1000)

    def acked(self, sent_ns: int, step: int) -> None:
        self.acks.setdefault(step, []).append((self.clock() - sent_ns) // 1000)

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def closed(self, code: int) -> None:
        self.closes[code] = self.closes.get(code, 0) + 1


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and as whom one link connects."""

    url: str
    room: str  # the target's name for the room (a thread id for carehub)
    token: str = ""
    device: int = 0
    local_host: str = ""  # source address, to go past one address's port range
    resume_from: int | None = None  # carehub: the cursor to resume from
    receipts: bool = True  # carehub: acknowledge deliveries with receipts.delivered
    user: int = 0  # carehub: the user id, named in each envelope's header
    recipients: tuple[int, ...] = ()  # carehub: every device of the thread's members


class _Link(WSListener):  # type: ignore[misc]
    """Common life cycle: ``ready`` resolves once the link may publish."""

    frame_type: ClassVar[WSMsgType] = WSMsgType.BINARY
    acknowledges: ClassVar[bool] = False  # each publish answered once stored (``acked``)

    def __init__(self, endpoint: Endpoint, recorder: Recorder, payload_size: int) -> None:
        self.endpoint = endpoint
        self.recorder = recorder
        self.payload_size = payload_size
        self.transport: WSTransport | None = None
        self.alive = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def publish(self, stamp: Stamp) -> None:
        raise NotImplementedError

    async def prepare(self) -> None:
        """What a publishing link does once, before its first message."""

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.alive = True
        self.connected()

    def connected(self) -> None:
        self.settle()

    def settle(self, error: Exception | None = None) -> None:
        """Resolve ``ready`` once: an answer that comes after the wait for
        it gave up (and cancelled it) changes nothing."""
        if self.ready.done():
            return
        if error is None:
            self.ready.set_result(None)
        else:
            self.ready.set_exception(error)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            self.recorder.closed(int(frame.get_close_code()))
            transport.send_close(frame.get_close_code())
            transport.disconnect()
        elif frame.msg_type == WSMsgType.BINARY:
            self.received(frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.TEXT:
            self.received_text(frame.get_payload_as_utf8_text())

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.alive = False
        self.settle(ConnectionError("disconnected before ready"))

    def received(self, data: bytes) -> None:
        self.recorder.error("unexpected_binary")

    def received_text(self, text: str) -> None:
        self.recorder.error("unexpected_text")

    def close(self) -> None:
        if self.transport is not None and self.alive:
            self.transport.send_close(WSCloseCode.OK)
            self.transport.disconnect()


class _NewMessage(msgspec.Struct):
    thread: int
    thread_seq: int
    sender: int
    envelope: memoryview  # zero-copy: a big group's envelope is mostly wrapped keys


class _Envelope(msgspec.Struct, array_like=True):
    header: memoryview
    body: bytes
    sig: memoryview


_NEW_MESSAGE = msgspec.msgpack.Decoder(_NewMessage)
_ENVELOPE = msgspec.msgpack.Decoder(_Envelope)
_ENCODE = msgspec.msgpack.Encoder().encode
_MSG_ID = struct.Struct("<IIQ")
_WRAPPED_KEY = bytes(80)
_ZEROS = bytes(64)


class CarehubLink(_Link):
    """carehub.v1: hello with the bearer token; ``messages.send`` calls; a
    ``receipts.delivered`` per thread for what others sent that arrived in
    one read burst (as the web app, a device does not acknowledge its own
    user's messages: sending moved their receipts already).

    Envelopes have the real shape and size, as the SDK makes them: in a
    thread of up to ``SENDER_KEYS_ABOVE`` devices a header wrapping a key
    for every device (an 80-byte sealed box each); in a bigger one a header
    naming the sender key the publisher distributed once beforehand
    (``prepare``). A signature, and the stamp as the body. The server checks
    shape and coverage only, never the cryptography, so the generator spends
    no CPU on it: what encrypting costs lands on each user's own device, not
    on the server."""

    acknowledges = True

    def __init__(self, endpoint: Endpoint, recorder: Recorder, payload_size: int) -> None:
        super().__init__(endpoint, recorder, payload_size)
        self.ids = count(1)
        self.pending: dict[int, tuple[int, int]] = {}  # call id -> (sent_ns, step)
        self.unreceipted: dict[int, int] = {}  # thread -> newest seq received
        self.thread = int(endpoint.room)
        # The handshake, pongs and the cursor; picows already bounds a frame.
        self.session = ClientSession(
            endpoint.token,
            endpoint.device,
            resume_from=endpoint.resume_from,
            client="carehub-bench",
            max_frame_bytes=sys.maxsize,
        )
        # A resuming link keeps the stamps it receives, from its first frame.
        self.messages: list[bytes] = []
        self.want = 0
        self.caught_up: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.wrapped = [Recipient(device, _WRAPPED_KEY) for device in sorted(endpoint.recipients)]
        self.sender_key: bytes | None = None  # the key id, once distributed
        self.distributing: tuple[int, asyncio.Future[None]] | None = None

    @property
    def cursor(self) -> int:
        """The newest durable event received: where to resume from."""
        return self.session.cursor or 0

    def connected(self) -> None:
        self._flush()

    def _flush(self) -> None:
        assert self.transport is not None
        for frame in self.session.data_to_send():
            self.transport.send(WSMsgType.BINARY, frame)

    def _send(self, frame: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.BINARY, _ENCODE(frame))

    def call(self, method: str, params: dict[str, Any]) -> int:
        call_id = next(self.ids)
        self._send({"t": "call", "id": call_id, "method": method, "params": params})
        return call_id

    async def prepare(self) -> None:
        """Distribute this device's sender key when the thread is big enough
        for the SDK to use one."""
        if len(self.wrapped) <= SENDER_KEYS_ABOVE:
            return
        key_id = os.urandom(16)
        endpoint = self.endpoint
        key = SenderKey(
            SENDER_KEY_VERSION, self.thread, endpoint.user, endpoint.device, key_id, _ZEROS[:32], 0
        )
        signed = _ENCODE(SignedSenderKey(_ENCODE(key), _ZEROS))
        params = {"thread": self.thread, "key": signed, "recipients": self.wrapped}
        done = asyncio.get_running_loop().create_future()
        self.distributing = (self.call("keys.distribute", params), done)
        await asyncio.wait_for(done, 30)
        self.sender_key = key_id

    def publish(self, stamp: Stamp) -> None:
        msg_id = _MSG_ID.pack(stamp.step, stamp.link, stamp.number)
        common = (
            self.thread,
            msg_id,
            self.endpoint.user,
            self.endpoint.device,
            stamp.sent_ns // 1_000_000,
            "text",
            None,
        )
        header: Header | GroupHeader
        if self.sender_key is None:
            header = Header(ENVELOPE_VERSION, *common, self.wrapped, _ZEROS[:32], _ZEROS[:24])
        else:
            header = GroupHeader(
                GROUP_ENVELOPE_VERSION, *common, self.sender_key, _ZEROS[:32], _ZEROS[:24]
            )
        body = binary_payload(stamp, self.payload_size)
        envelope = _ENCODE(Envelope(_ENCODE(header), body, _ZEROS))
        params = {"thread": self.thread, "client_msg_id": msg_id.hex(), "envelope": envelope}
        call_id = self.call("messages.send", params)
        self.pending[call_id] = (stamp.sent_ns, stamp.step)

    def received(self, data: bytes) -> None:
        events = self.session.receive(data)
        self._flush()  # a pong
        for event in events:
            self._take(event)

    def _take(self, event: SessionEvent) -> None:
        if isinstance(event, EventReceived):
            frame = event.event
            if isinstance(frame, Event) and frame.type == "message.new":
                self._delivered(_NEW_MESSAGE.decode(frame.data))
        elif isinstance(event, ReplyReceived):
            self._answered(event.frame)
        elif isinstance(event, Welcomed):
            self.settle()
        elif isinstance(event, Refused):
            self.settle(ConnectionError(event.reason))

    def _delivered(self, message: _NewMessage) -> None:
        body = _ENVELOPE.decode(message.envelope).body
        self.recorder.delivered(*read_binary(body))
        if self.endpoint.resume_from is not None:
            self.messages.append(body[: _BINARY.size])
            self._check_caught_up()
        if not self.endpoint.receipts or message.sender == self.endpoint.user:
            return  # as the web app: one's own messages are not acknowledged
        if not self.unreceipted:
            asyncio.get_running_loop().call_soon(self._send_receipts)
        self.unreceipted[message.thread] = message.thread_seq

    def _answered(self, frame: Result | Error | BrokenError) -> None:
        if self.distributing is not None and frame.id == self.distributing[0]:
            done = self.distributing[1]
            if isinstance(frame, Result):
                done.set_result(None)
            else:
                done.set_exception(ConnectionError(f"keys.distribute: {frame.code}"))
            return
        if isinstance(frame, Result):
            sent = self.pending.pop(frame.id, None)
            if sent is not None:
                self.recorder.acked(*sent)
        else:
            self.pending.pop(frame.id or 0, None)
            self.recorder.error(str(frame.code))

    async def wait_caught_up(self, want: int, timeout: float) -> float:
        """When (monotonic) the link had received ``want`` messages."""
        self.want = want
        self._check_caught_up()
        return await asyncio.wait_for(self.caught_up, timeout)

    def _check_caught_up(self) -> None:
        if len(self.messages) >= self.want and not self.caught_up.done():
            self.caught_up.set_result(time.monotonic())

    def _send_receipts(self) -> None:
        for thread, seq in self.unreceipted.items():
            self.call("receipts.delivered", {"thread": thread, "thread_seq": seq})
        self.unreceipted.clear()


class CeilingLink(_Link):
    """The ceiling: every binary frame is the payload, broadcast to the room."""

    def publish(self, stamp: Stamp) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.BINARY, binary_payload(stamp, self.payload_size))

    def received(self, data: bytes) -> None:
        self.recorder.delivered(*read_binary(data))


class ChannelsLink(_Link):
    """Django Channels, as in its chat tutorial: JSON ``{"message": ...}``."""

    def publish(self, stamp: Stamp) -> None:
        assert self.transport is not None
        body = json.dumps({"message": text_payload(stamp, self.payload_size)})
        self.transport.send(WSMsgType.TEXT, body.encode())

    def received_text(self, text: str) -> None:
        self.recorder.delivered(*read_text(json.loads(text)["message"]))


class SocketIOLink(_Link):
    """python-socketio over its WebSocket transport (Engine.IO 4, Socket.IO 5):
    connect the default namespace, join the room, emit and receive ``chat``."""

    def connected(self) -> None:
        pass  # wait for the Engine.IO open packet

    def _text(self, packet: str) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, packet.encode())

    def publish(self, stamp: Stamp) -> None:
        message = {"room": self.endpoint.room, "message": text_payload(stamp, self.payload_size)}
        self._text("42" + json.dumps(["chat", message]))

    def received_text(self, text: str) -> None:
        if text.startswith("42"):
            name, data = json.loads(text[2:])
            if name == "chat":
                self.recorder.delivered(*read_text(data["message"]))
            elif name == "joined":
                self.settle()
        elif text == "2":
            self._text("3")  # Engine.IO ping -> pong
        elif text.startswith("0"):
            self._text("40")  # open -> connect the default namespace
        elif text.startswith("40"):
            self._text("42" + json.dumps(["join", self.endpoint.room]))


ADAPTERS: dict[str, type[_Link]] = {
    "carehub": CarehubLink,
    "ceiling": CeilingLink,
    "channels": ChannelsLink,
    "socketio": SocketIOLink,
}


async def open_link(
    adapter: str, endpoint: Endpoint, recorder: Recorder, payload_size: int
) -> _Link:
    """Connect and wait until the link may publish."""
    cls = ADAPTERS[adapter]
    extra: dict[str, Any] = {}
    if endpoint.local_host:
        extra["local_addr"] = (endpoint.local_host, 0)
    headers = {"Sec-WebSocket-Protocol": SUBPROTOCOL} if cls is CarehubLink else None
    _, link = await ws_connect(
        lambda: cls(endpoint, recorder, payload_size),
        endpoint.url,
        extra_headers=headers,
        websocket_handshake_timeout=30,
        **extra,
    )
    assert isinstance(link, _Link)
    await asyncio.wait_for(link.ready, 30)
    return link
