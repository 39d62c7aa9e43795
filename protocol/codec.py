"""MessagePack encoding and validated decoding of frames, params and events.

Decoding raises only ``DecodeError`` (or its subclasses), whatever the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any, TypeVar

import msgspec
from msgspec import Raw, Struct

from protocol.errors import DecodeError, FrameTooLarge, UnknownMethod, VersionMismatch
from protocol.events import EVENTS
from protocol.frames import ClientFrame, Event, RequestId, ServerFrame
from protocol.methods import METHODS, MethodSpec

__all__ = [
    "BATCHES_FROM",
    "DECODE_FAILURES",
    "PACKED_BYTES",
    "PROTOCOL_VERSIONS",
    "SUBPROTOCOL",
    "BrokenError",
    "BrokenEvent",
    "Codec",
    "decode_as",
    "encode",
    "encode_event",
    "messages",
    "negotiate",
    "to_raw",
]

# Version 2 is version 1 where a server's message after the welcome may hold
# several frames: a MessagePack array of them, in order (``messages``).
PROTOCOL_VERSIONS = (1, 2)
BATCHES_FROM = 2
SUBPROTOCOL = "carehub.v1"  # the WebSocket subprotocol; the hello picks the version

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()
# Anything msgspec can raise on hostile input, including absurd nesting.
DECODE_FAILURES = (msgspec.MsgspecError, RecursionError, ValueError, TypeError, OverflowError)


def negotiate(offered: Iterable[int], supported: Iterable[int] = PROTOCOL_VERSIONS) -> int:
    """The highest version both sides speak."""
    common = set(offered) & set(supported)
    if not common:
        raise VersionMismatch(f"no common protocol version (server speaks {sorted(supported)})")
    return max(common)


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def to_raw(obj: Any) -> Raw:
    """Encode ``obj`` now so it can be embedded in a frame without re-encoding."""
    return Raw(_encoder.encode(obj))


def encode_event(type_: str, data: Raw, seq: int | None = None) -> bytes:
    return _encoder.encode(Event(type=type_, data=data, seq=seq))


_LONGEST_ARRAY_HEAD = 5  # bytes: 0xdd and a 32-bit count (what a message's cap leaves)
PACKED_BYTES = 64 * 1024  # the most a message of several frames holds (and limits.frame_bytes)


def messages(frames: list[bytes], max_bytes: int) -> Iterator[tuple[bytes, int]]:
    """``frames`` as WebSocket messages, in order, each with the bytes of
    the frames it holds. With ``max_bytes`` (version 2), consecutive frames
    share a message of at most that many bytes: one write instead of one per
    frame; a frame alone is sent as itself (one larger than ``max_bytes``
    too). Without it (0), one frame per message."""
    group: list[bytes] = []
    size = 0
    for frame in frames:
        if group and size + len(frame) + _LONGEST_ARRAY_HEAD > max_bytes:
            yield _message(group), size
            group, size = [], 0
        group.append(frame)
        size += len(frame)
    if group:
        yield _message(group), size


def _message(frames: list[bytes]) -> bytes:
    count = len(frames)
    if count == 1:
        return frames[0]
    if count < 16:
        head = bytes((0x90 | count,))
    elif count < 1 << 16:
        head = b"\xdc" + count.to_bytes(2, "big")
    else:
        head = b"\xdd" + count.to_bytes(4, "big")
    return head + b"".join(frames)


@cache
def _decoder(type_: Any) -> msgspec.msgpack.Decoder[Any]:
    return msgspec.msgpack.Decoder(type_)


def decode_as(type_: type[T], data: bytes | Raw) -> T:
    """Decode and validate ``data`` as ``type_``; raise ``DecodeError`` otherwise."""
    try:
        return _decoder(type_).decode(data)  # type: ignore[no-any-return, arg-type]
    except DECODE_FAILURES as exc:
        raise DecodeError(str(exc) or type(exc).__name__) from None


def _spec(method: str) -> MethodSpec:
    spec = METHODS.get(method)
    if spec is None:
        raise UnknownMethod(f"unknown method {method!r}")
    return spec


_SERVER_MESSAGE = ServerFrame | list[Raw]


class BrokenEvent(Struct, frozen=True):
    """An event frame whose own fields did not validate (a server's bug):
    what could be read of it, so that a client hands it on instead of
    dropping it. Not a frame of the wire."""

    type: str  # "" when the frame's type is not a string
    seq: int | None  # None when the frame's seq is not an integer
    frame: Raw  # the whole frame
    reason: str


class BrokenError(Struct, frozen=True):
    """An error frame answering a call whose other fields did not validate
    (a code this client does not know, from a newer server): what could be
    read of it, so that the call fails at once instead of waiting for an
    answer that came. Not a frame of the wire."""

    id: int
    code: str  # "" when the frame's code is not a string
    message: str
    details: dict[str, Any]
    reason: str


class _EventHead(Struct, tag_field="t", tag="event"):
    """An event frame read without validating its fields."""

    type: Any = None
    seq: Any = None


class _ErrorHead(Struct, tag_field="t", tag="error"):
    """An error frame answering a call, read without validating its other fields."""

    id: RequestId
    code: Any = None
    message: Any = None
    details: Any = None


_HEADS = _EventHead | _ErrorHead


def _broken(frame: bytes | Raw, reason: str) -> BrokenEvent | BrokenError | None:
    """What ``frame`` still tells: an event, or an error answering a call;
    None for any other frame (a newer server's, which a client skips)."""
    try:
        head = _decoder(_HEADS).decode(frame)
    except DECODE_FAILURES:
        return None
    if isinstance(head, _EventHead):
        seq = head.seq if type(head.seq) is int else None  # as Event.seq would be
        kind = head.type if isinstance(head.type, str) else ""
        return BrokenEvent(kind, seq, Raw(frame), reason)
    code = head.code if isinstance(head.code, str) else ""
    message = head.message if isinstance(head.message, str) else ""
    details = head.details if _is_map(head.details) else {}
    return BrokenError(head.id, code, message, details, reason)


def _is_map(value: Any) -> bool:
    """A map whose keys are all strings, as ``Error.details`` is."""
    return isinstance(value, dict) and all(isinstance(key, str) for key in value)


def _readable(raw: Raw) -> ServerFrame | BrokenEvent | BrokenError | None:
    try:
        return decode_as(ServerFrame, raw)  # type: ignore[arg-type]
    except DecodeError as exc:
        return _broken(raw, str(exc))


class _CallHead(Struct, tag_field="t", tag="call"):
    id: RequestId


class Codec:
    """Frame codec with a size limit, one per end of a connection."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes

    def _check_size(self, data: bytes) -> None:
        if len(data) > self.max_frame_bytes:
            raise FrameTooLarge(f"frame of {len(data)} bytes exceeds {self.max_frame_bytes}")

    def decode_client(self, data: bytes) -> ClientFrame:
        """Decode a frame sent by a client (what the server reads)."""
        self._check_size(data)
        return decode_as(ClientFrame, data)  # type: ignore[arg-type]

    def decode_server(self, data: bytes) -> list[ServerFrame | BrokenEvent | BrokenError]:
        """The frames of a message from the server (what a client reads), in
        order: one, or several from a version 2 server. An event frame whose
        fields do not validate comes as a ``BrokenEvent``, an error frame
        answering a call as a ``BrokenError``. Raises
        ``DecodeError`` for a message it cannot read otherwise; a frame of
        several that it cannot read (a newer server's) is left out, as that
        frame alone would be."""
        self._check_size(data)
        try:
            decoded: ServerFrame | list[Raw] = decode_as(_SERVER_MESSAGE, data)  # type: ignore[arg-type]
        except DecodeError as exc:
            broken = _broken(data, str(exc))
            if broken is None:
                raise
            return [broken]
        if not isinstance(decoded, list):
            return [decoded]
        return [frame for raw in decoded if (frame := _readable(raw)) is not None]

    @staticmethod
    def call_id(data: bytes) -> int | None:
        """The id of a call frame that failed to decode, if it can be read."""
        try:
            return _decoder(_CallHead).decode(data).id  # type: ignore[no-any-return]
        except DECODE_FAILURES:
            return None

    @staticmethod
    def decode_params(method: str, params: Raw) -> Struct:
        return decode_as(_spec(method).params, params)

    @staticmethod
    def decode_result(method: str, value: Raw) -> Struct:
        return decode_as(_spec(method).result, value)

    @staticmethod
    def decode_event(type_: str, data: Raw) -> Struct | Raw:
        """Typed event data; unknown event types stay raw for forward compatibility."""
        data_type = EVENTS.get(type_)
        return data if data_type is None else decode_as(data_type, data)
