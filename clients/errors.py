"""SDK errors::

CarehubError
├── CallError          the server refused a call (``code`` is an ErrorCode)
├── AuthError          login refused, or the socket closed for a stale token
└── Disconnected       the connection ended and will not come back
"""

from __future__ import annotations

from typing import Any

from protocol.errors import ErrorCode

__all__ = ["AuthError", "CallError", "CarehubError", "Disconnected"]


class CarehubError(Exception):
    """Root of every error raised by the SDK."""


class CallError(CarehubError):
    def __init__(self, code: ErrorCode | str, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}


class AuthError(CarehubError):
    pass


class Disconnected(CarehubError):
    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"disconnected ({code}): {reason}")
        self.code = code
        self.reason = reason
