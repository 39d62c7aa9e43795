"""Sans-I/O sessions of carehub.v1: the handshake and what each end does
with a frame, with no I/O inside.

Feed a session the bytes of each WebSocket message received (``receive``);
it returns typed events and the bytes to send. The server, the Python SDK
and the load generator share these two classes and keep only their I/O.
Each session lives as long as one socket and keeps its ``State``::

    server   AWAITING_HELLO ---hello---> OPEN ---close()---> CLOSING ---closed()---> CLOSED
    client   AWAITING_WELCOME --welcome--> OPEN ---close()---> CLOSING ---closed()---> CLOSED

A refused handshake goes from the first state to CLOSING (the ``Refused``
event says with which close code); a socket lost goes to CLOSED from any
state. Any other move raises ``InvalidState``.

The server session sends nothing by itself: every frame spends from the
device's rate limits first, so its events carry the ``reply`` to send once
the frame is taken. The client session queues its hello and its pongs
(``data_to_send``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import Enum, auto

from protocol.codec import (
    BATCHES_FROM,
    PACKED_BYTES,
    PROTOCOL_VERSIONS,
    BrokenError,
    BrokenEvent,
    Codec,
    decode_as,
    encode,
    negotiate,
)
from protocol.errors import CloseCode, DecodeError, ErrorCode, ProtocolError, VersionMismatch
from protocol.events import SyncReset
from protocol.frames import Call, Error, Event, Hello, Ping, Pong, Result, ServerFrame, Welcome

__all__ = [
    "CallReceived",
    "ClientSession",
    "Duplicate",
    "EventReceived",
    "FrameEvent",
    "FrameRefused",
    "Greeted",
    "InvalidState",
    "PingReceived",
    "PongReceived",
    "Refused",
    "ReplyReceived",
    "ServerSession",
    "SessionEvent",
    "State",
    "Welcomed",
]

BINARY_ONLY = "frames are binary MessagePack"
DEFAULT_HEARTBEAT_SECONDS = 30.0
SILENT_HEARTBEATS = 2.5  # a client gives up on a server silent this many heartbeats


class State(Enum):
    AWAITING_HELLO = auto()  # server: the first frame must be a hello
    AWAITING_WELCOME = auto()  # client: hello sent, the first frame must be a welcome
    OPEN = auto()
    CLOSING = auto()  # a close is decided: its code and reason are known
    CLOSED = auto()  # the socket is gone


_MOVES = {
    State.AWAITING_HELLO: {State.OPEN, State.CLOSING, State.CLOSED},
    State.AWAITING_WELCOME: {State.OPEN, State.CLOSING, State.CLOSED},
    State.OPEN: {State.CLOSING, State.CLOSED},
    State.CLOSING: {State.CLOSED},
    State.CLOSED: set(),
}


class InvalidState(ProtocolError):
    """A session was asked to do what its state does not allow."""


@dataclass(frozen=True, slots=True)
class Greeted:
    """Server: a valid hello in a version both ends speak."""

    hello: Hello
    version: int


@dataclass(frozen=True, slots=True)
class Refused:
    """The handshake failed: close the socket with this code and reason."""

    code: CloseCode
    reason: str


@dataclass(frozen=True, slots=True)
class CallReceived:
    """Server: a call to answer with a ``result`` or an ``error``."""

    call: Call


@dataclass(frozen=True, slots=True)
class PingReceived:
    """A ping; ``reply`` is its pong (the client session queues it itself)."""

    ping: Ping
    reply: bytes


@dataclass(frozen=True, slots=True)
class PongReceived:
    """Server: a pong, which only proves the client alive."""

    pong: Pong


@dataclass(frozen=True, slots=True)
class FrameRefused:
    """Server: a frame that cannot be taken (unreadable, or a second hello);
    ``reply`` is the ``error`` that says why. The connection goes on."""

    error: Error
    reply: bytes


@dataclass(frozen=True, slots=True)
class Welcomed:
    """Client: the server's welcome."""

    welcome: Welcome


@dataclass(frozen=True, slots=True)
class ReplyReceived:
    """Client: the answer to a call (``frame.id``), or an error about an
    unreadable frame (``frame.id`` is None). A ``BrokenError`` is an error
    answering a call whose frame did not validate."""

    frame: Result | Error | BrokenError


@dataclass(frozen=True, slots=True)
class EventReceived:
    """Client: a push; a durable one (``event.seq`` set) is new, in order.
    A ``BrokenEvent`` is one whose frame did not validate."""

    event: Event | BrokenEvent


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Client: a durable event at or below the cursor, dropped."""

    seq: int


FrameEvent = CallReceived | PingReceived | PongReceived | FrameRefused  # once greeted
SessionEvent = Welcomed | Refused | ReplyReceived | EventReceived | Duplicate | PingReceived
_BROKEN = {BrokenEvent: "Event", BrokenError: "Error"}  # what a broken frame was meant to be


def _versions(max_frame_bytes: int) -> list[int]:
    """What a client offers: version 2's messages of several frames only if
    it reads messages that large."""
    if max_frame_bytes < PACKED_BYTES:
        return [version for version in PROTOCOL_VERSIONS if version < BATCHES_FROM]
    return list(PROTOCOL_VERSIONS)


class _Session:
    def __init__(self, state: State, max_frame_bytes: int) -> None:
        self.state = state
        self._codec = Codec(max_frame_bytes)
        self.close_code: int | None = None
        self.close_reason = ""

    def close(self, code: int, reason: str = "") -> None:
        """Decide to close, with this code and reason."""
        self._move(State.CLOSING)
        self.close_code, self.close_reason = code, reason

    def closed(self) -> None:
        """The socket is gone (closed by either end, or lost)."""
        if self.state is not State.CLOSED:
            self._move(State.CLOSED)

    def _refuse(self, code: CloseCode, reason: str) -> Refused:
        self.close(code, reason)
        return Refused(code, reason)

    def _move(self, state: State) -> None:
        if state not in _MOVES[self.state]:
            raise InvalidState(f"a session cannot go from {self.state.name} to {state.name}")
        self.state = state

    def _require(self, *states: State) -> None:
        if self.state not in states:
            raise InvalidState(f"not possible in state {self.state.name}")


class ServerSession(_Session):
    """The server's end: takes the hello, then classifies each frame."""

    def __init__(self, max_frame_bytes: int) -> None:
        super().__init__(State.AWAITING_HELLO, max_frame_bytes)

    def receive_hello(self, data: bytes | None) -> Greeted | Refused:
        """The first message received; ``None`` for a text message."""
        self._require(State.AWAITING_HELLO)
        if data is None:
            return self._refuse(CloseCode.BAD_HELLO, BINARY_ONLY)
        try:
            frame = self._codec.decode_client(data)
        except DecodeError as exc:
            return self._refuse(CloseCode.BAD_HELLO, f"unreadable hello: {exc}"[:120])
        if not isinstance(frame, Hello):
            return self._refuse(CloseCode.BAD_HELLO, "the first frame must be hello")
        try:
            version = negotiate(frame.versions)
        except VersionMismatch as exc:
            return self._refuse(CloseCode.UNSUPPORTED_VERSION, str(exc))
        self._move(State.OPEN)
        return Greeted(frame, version)

    def receive(self, data: bytes | None) -> FrameEvent:
        """A message received once greeted; ``None`` for a text message."""
        self._require(State.OPEN)
        if data is None:
            return self._refused_frame(Error(None, ErrorCode.INVALID, BINARY_ONLY))
        try:
            frame = self._codec.decode_client(data)
        except DecodeError as exc:
            return self._refused_frame(Error(self._codec.call_id(data), exc.code, str(exc)[:300]))
        if isinstance(frame, Call):
            return CallReceived(frame)
        if isinstance(frame, Ping):
            return PingReceived(frame, encode(Pong(ts=frame.ts)))
        if isinstance(frame, Hello):
            return self._refused_frame(Error(None, ErrorCode.INVALID, "already greeted"))
        return PongReceived(frame)

    def hello_timed_out(self) -> Refused:
        """No hello came in time."""
        self._require(State.AWAITING_HELLO)
        return self._refuse(CloseCode.HELLO_TIMEOUT, "no hello in time")

    def refuse(self, code: CloseCode, reason: str) -> Refused:
        """The hello was read but its sender may not connect (a bad token)."""
        self._require(State.OPEN)
        return self._refuse(code, reason)

    @staticmethod
    def _refused_frame(error: Error) -> FrameRefused:
        return FrameRefused(error, encode(error))


class ClientSession(_Session):
    """The client's end: says hello, then keeps the cursor (the newest
    durable event received) and drops what it has already seen."""

    def __init__(
        self,
        token: str,
        device: int,
        *,
        resume_from: int | None = None,
        client: str = "",
        max_frame_bytes: int = 1024 * 1024,
    ) -> None:
        super().__init__(State.AWAITING_WELCOME, max_frame_bytes)
        self.cursor = resume_from
        self.welcome: Welcome | None = None
        hello = Hello(_versions(max_frame_bytes), token, device, resume_from, client)
        self._outgoing = [encode(hello)]

    def data_to_send(self) -> list[bytes]:
        """The frames queued since the last call, oldest first."""
        frames, self._outgoing = self._outgoing, []
        return frames

    @property
    def silence_seconds(self) -> float:
        """How long the server may stay silent before the link is dead."""
        heartbeat = self.welcome.heartbeat_ms / 1000 if self.welcome else DEFAULT_HEARTBEAT_SECONDS
        return SILENT_HEARTBEATS * heartbeat

    def receive(self, data: bytes) -> list[SessionEvent]:
        """What one message received means, frame by frame (a version 2
        server sends several frames in one message); nothing for what there
        is nothing to act on (a frame this client cannot read, a pong,
        anything while closing)."""
        if self.state is State.CLOSING:
            return []
        self._require(State.AWAITING_WELCOME, State.OPEN)
        try:
            frames = self._codec.decode_server(data)
        except DecodeError as exc:
            if self.state is State.AWAITING_WELCOME:
                return [self._refuse(CloseCode.NORMAL, f"unreadable welcome: {exc}"[:120])]
            return []  # a newer server's frame (an unknown tag): ignored
        if self.state is State.AWAITING_WELCOME and len(frames) != 1:
            return [self._refuse(CloseCode.NORMAL, "the welcome must come alone")]
        events: list[SessionEvent] = []
        for frame in frames:
            event = self._frame(frame)
            if event is not None:
                events.append(event)
            if isinstance(event, Refused):  # closing: what follows is not read
                break
        return events

    def _frame(self, frame: ServerFrame | BrokenEvent | BrokenError) -> SessionEvent | None:
        if self.state is State.AWAITING_WELCOME:
            if not isinstance(frame, Welcome):
                kind = _BROKEN.get(type(frame), type(frame).__name__)
                return self._refuse(CloseCode.NORMAL, f"expected welcome, got {kind}")
            return self._welcomed(frame)
        if isinstance(frame, Result | Error | BrokenError):
            return ReplyReceived(frame)
        if isinstance(frame, Event | BrokenEvent):
            return self._event(frame)
        if isinstance(frame, Ping):
            return self._ping(frame)
        return None  # a pong, or a welcome again

    def _welcomed(self, welcome: Welcome) -> Welcomed:
        self._move(State.OPEN)
        self.welcome = welcome
        if self.cursor is None:
            self.cursor = welcome.cursor
        return Welcomed(welcome)

    def _event(self, event: Event | BrokenEvent) -> EventReceived | Duplicate:
        if event.seq is not None:
            if self.cursor is not None and event.seq <= self.cursor:
                return Duplicate(event.seq)
            self.cursor = event.seq
        elif isinstance(event, Event) and event.type == "sync.reset":
            # The app reloads; it resumes from here next.
            with contextlib.suppress(DecodeError):
                self.cursor = decode_as(SyncReset, event.data).cursor
        return EventReceived(event)

    def _ping(self, ping: Ping) -> PingReceived:
        if ping.cursor is not None and self.cursor is not None:
            self.cursor = max(self.cursor, ping.cursor)  # nothing else was for us
        pong = encode(Pong(ts=ping.ts))
        self._outgoing.append(pong)
        return PingReceived(ping, pong)
