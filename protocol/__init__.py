"""carehub wire protocol: typed frames, codec and codes. Sans-I/O."""

from protocol.codec import PROTOCOL_VERSIONS, SUBPROTOCOL, Codec, negotiate
from protocol.errors import (
    CloseCode,
    DecodeError,
    ErrorCode,
    FrameTooLarge,
    ProtocolError,
    UnknownMethod,
    VersionMismatch,
    should_reconnect,
)

__all__ = [
    "PROTOCOL_VERSIONS",
    "SUBPROTOCOL",
    "CloseCode",
    "Codec",
    "DecodeError",
    "ErrorCode",
    "FrameTooLarge",
    "ProtocolError",
    "UnknownMethod",
    "VersionMismatch",
    "negotiate",
    "should_reconnect",
]
