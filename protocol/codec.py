"""MessagePack encoding and validated decoding of frames, params and events.

Decoding raises only ``DecodeError`` (or its subclasses), whatever the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, TypeVar

import msgspec
from msgspec import Raw, Struct

from protocol.errors import DecodeError, FrameTooLarge, UnknownMethod, VersionMismatch
from protocol.events import EVENTS
from protocol.frames import ClientFrame, Event, RequestId, ServerFrame
from protocol.methods import METHODS, MethodSpec

__all__ = [
    "DECODE_FAILURES",
    "PROTOCOL_VERSIONS",
    "SUBPROTOCOL",
    "Codec",
    "decode_as",
    "encode",
    "encode_event",
    "negotiate",
    "to_raw",
]

PROTOCOL_VERSIONS = (1,)
SUBPROTOCOL = "carehub.v1"

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

    def decode_server(self, data: bytes) -> ServerFrame:
        """Decode a frame sent by the server (what a client reads)."""
        self._check_size(data)
        return decode_as(ServerFrame, data)  # type: ignore[arg-type]

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
