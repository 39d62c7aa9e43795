"""The frames of protocol carehub.v1.

Every WebSocket message is one MessagePack map tagged by ``t``. Times are
integer milliseconds since the Unix epoch (UTC). Fields typed ``Raw`` hold
MessagePack that is decoded in a second step against the method's or the
event's own type, so a frame can be routed before its payload is parsed and
an event encoded once can be written to many sockets.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta, Raw, Struct

from protocol.errors import ErrorCode
from protocol.model import MAX_INT, NO_NUL, Id, Natural

__all__ = [
    "EMPTY",
    "Call",
    "ClientFrame",
    "Error",
    "Event",
    "Hello",
    "Limits",
    "Ping",
    "Pong",
    "RequestId",
    "Result",
    "ServerFrame",
    "Welcome",
]

EMPTY = Raw(b"\x80")  # an empty MessagePack map

RequestId = Annotated[int, Meta(ge=0, le=MAX_INT)]


class _Frame(Struct, tag_field="t", omit_defaults=True):
    pass


class Hello(_Frame, tag="hello"):
    """First frame from the client. ``versions`` lists what it speaks."""

    versions: Annotated[list[Annotated[int, Meta(ge=0, le=255)]], Meta(max_length=16)]
    token: Annotated[str, Meta(max_length=512), NO_NUL]
    device: Id
    resume_from: Natural | None = None
    client: Annotated[str, Meta(max_length=64), NO_NUL] = ""


class Limits(Struct, omit_defaults=True):
    frame_bytes: int
    envelope_bytes: int
    calls_per_second: float
    call_burst: int
    sends_per_second: float
    send_burst: int
    history_page: int


class Welcome(_Frame, tag="welcome"):
    """The server's answer to ``hello``: who you are and the rules of this link."""

    v: int
    user: int
    role: str
    device: int
    session: str
    server_time: int
    cursor: int  # the newest durable event seq at the time of welcome
    heartbeat_ms: int
    limits: Limits
    resumed: bool = False
    locale: str = "fr"  # the user's language (``protocol.texts``; ``account.set`` changes it)


class Call(_Frame, tag="call"):
    id: RequestId
    method: Annotated[str, Meta(max_length=64), NO_NUL]
    params: Raw = msgspec.field(default_factory=lambda: EMPTY)


class Result(_Frame, tag="result"):
    id: RequestId
    value: Raw = msgspec.field(default_factory=lambda: EMPTY)


class Error(_Frame, tag="error"):
    """A failed call (``id`` set) or an unreadable frame (``id`` is None)."""

    id: RequestId | None
    code: ErrorCode
    message: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class Event(_Frame, tag="event"):
    """A push. Durable events carry ``seq``, a cursor to resume from."""

    type: str
    data: Raw = msgspec.field(default_factory=lambda: EMPTY)
    seq: int | None = None


class Ping(_Frame, tag="ping"):
    ts: Natural = 0
    # From the server: every durable event up to this seq meant for you was
    # sent before this ping, so a client may resume from here even if the
    # last event it received is older (nothing else was for it).
    cursor: Natural | None = None


class Pong(_Frame, tag="pong"):
    ts: Natural = 0


ClientFrame = Hello | Call | Ping | Pong
ServerFrame = Welcome | Result | Error | Event | Ping | Pong
