"""Errors and codes shared by both ends of the wire.

Exception tree::

    ProtocolError           anything this package raises
    ├── DecodeError         bytes that are not a valid frame or parameters
    │   ├── FrameTooLarge   a frame over the size limit
    │   └── UnknownMethod   a call to a method that does not exist
    └── VersionMismatch     no protocol version in common

``ErrorCode`` is the closed set of codes an ``error`` frame may carry;
``CloseCode`` the WebSocket close codes the server uses, in two ranges that
tell a client whether to reconnect (4000-4099) or stop (4100-4199).
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = [
    "CloseCode",
    "DecodeError",
    "ErrorCode",
    "FrameTooLarge",
    "ProtocolError",
    "UnknownMethod",
    "VersionMismatch",
    "should_reconnect",
]


class ErrorCode(StrEnum):
    """Why a call failed. Clients switch on these; messages are for humans."""

    INVALID = "invalid"  # malformed frame or parameters that fail validation
    UNKNOWN_METHOD = "unknown_method"
    UNAUTHORIZED = "unauthorized"  # no valid credentials
    FORBIDDEN = "forbidden"  # valid credentials, not allowed
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    TOO_LARGE = "too_large"
    QUOTA_EXCEEDED = "quota_exceeded"  # details: quota, used (bytes)
    STALE_DEVICES = "stale_devices"  # details: missing, unknown, no_keys; fetch keys again
    RATE_LIMITED = "rate_limited"  # details.retry_after_ms says when to retry
    UNAVAILABLE = "unavailable"  # a dependency is down; retrying later is safe
    INTERNAL = "internal"


class CloseCode(IntEnum):
    """WebSocket close codes. 4000-4099: reconnect and resume; 4100-4199: stop."""

    NORMAL = 1000
    POLICY_VIOLATION = 1008  # frames kept coming after rate_limited answers
    MESSAGE_TOO_BIG = 1009  # transport frame above the hard cap; a client bug
    SERVER_ERROR = 1011  # a bug on our side; reconnecting is worth a try
    SLOW_CONSUMER = 4000  # the send queue overflowed; resume from the cursor
    HEARTBEAT_TIMEOUT = 4001
    SERVER_SHUTDOWN = 4002  # reconnect, possibly to another node
    HELLO_TIMEOUT = 4003
    ACCESS_CHANGED = 4004  # a delegation to you changed: reconnect to work with the new one
    RESUME = 4005  # the server's live path was interrupted: reconnect and resume
    UNAUTHORIZED = 4100  # token unknown or expired: log in again
    TOKEN_REVOKED = 4101
    UNSUPPORTED_VERSION = 4102
    BAD_HELLO = 4103  # the first frame was not a valid hello
    DEVICE_SOCKETS = 4104  # the device opened more sockets than allowed: its oldest is closed


_RECONNECT_STANDARD = {1001, 1006, 1011, 1012, 1013, 1014}


def should_reconnect(code: int) -> bool:
    """Whether a client that saw this close code should reconnect and resume."""
    return 4000 <= code < 4100 or code in _RECONNECT_STANDARD


class ProtocolError(Exception):
    """Root of every error raised by ``protocol``."""

    code: ErrorCode = ErrorCode.INVALID


class DecodeError(ProtocolError):
    """The bytes are not a valid frame, or the parameters do not validate."""


class FrameTooLarge(DecodeError):
    code = ErrorCode.TOO_LARGE


class UnknownMethod(DecodeError):
    code = ErrorCode.UNKNOWN_METHOD


class VersionMismatch(ProtocolError):
    """The peers share no protocol version."""
