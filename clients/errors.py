"""SDK errors::

CarehubError
├── CallError          the server refused a call (``code`` is an ErrorCode)
├── AuthError          login refused, or the socket closed for a stale token
├── Disconnected       the connection ended and will not come back
└── E2EError           end-to-end encryption refused something (never plaintext)
    ├── UntrustedDevices   a device list failed verification
    │   ├── IdentityChanged    a contact's identity key is not the pinned one
    │   └── Rollback           an older (or conflicting) device list
    ├── UnknownDevice      the sender device is not in the sender's signed list
    ├── BadSignature
    ├── WrongThread        the envelope was made for another thread
    ├── Replay             a message id seen before in another message
    ├── NotForThisDevice   no content key was wrapped for this device
    ├── BadCommitment      the content key does not match the header's commitment
    ├── DecryptionFailed   a wrapped key, body or document chunk failed to open
    ├── NotDelegated       ``acting_for`` without a delegation from that user
    ├── DocumentTampered   a document's bytes or its end are not what was sent
    └── NotAnEnvelope      a server notice: read it with ``Secure.read``
"""

from __future__ import annotations

from typing import Any

from protocol.errors import ErrorCode

__all__ = [
    "AuthError",
    "BadCommitment",
    "BadSignature",
    "CallError",
    "CarehubError",
    "DecryptionFailed",
    "Disconnected",
    "DocumentTampered",
    "E2EError",
    "IdentityChanged",
    "NotAnEnvelope",
    "NotDelegated",
    "NotForThisDevice",
    "Replay",
    "Rollback",
    "UnknownDevice",
    "UntrustedDevices",
    "WrongThread",
]


class CarehubError(Exception):
    """Root of every error raised by the SDK."""


class CallError(CarehubError):
    def __init__(self, code: ErrorCode | str, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}


class AuthError(CarehubError):
    """``details.reason`` says what a login lacks: ``second_factor`` (send
    ``otp``), ``wrong_code``, ``reset_link`` (``protocol.account.AccountRefusal``)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class Disconnected(CarehubError):
    def __init__(self, code: int | None, reason: str = "") -> None:
        super().__init__(f"disconnected ({code}): {reason}")
        self.code = code
        self.reason = reason


class E2EError(CarehubError):
    """A message, document or key list that must not be trusted."""


class UntrustedDevices(E2EError):
    pass


class IdentityChanged(UntrustedDevices):
    """Sending to (and reading from) ``user`` stops until the app shows the
    change and calls ``acknowledge_identity``."""

    def __init__(self, user: int) -> None:
        super().__init__(f"user {user} has a new identity key: verify it before going on")
        self.user = user


class Rollback(UntrustedDevices):
    pass


class UnknownDevice(E2EError):
    pass


class BadSignature(E2EError):
    pass


class WrongThread(E2EError):
    pass


class Replay(E2EError):
    pass


class NotForThisDevice(E2EError):
    pass


class BadCommitment(E2EError):
    pass


class DecryptionFailed(E2EError):
    pass


class NotDelegated(E2EError):
    pass


class DocumentTampered(E2EError):
    pass


class NotAnEnvelope(E2EError):
    pass
