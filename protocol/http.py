"""The HTTP API's bodies: accounts (register, log in) and its errors.

JSON in and out. Every error is an ``ErrorBody`` with the status of its
``code`` (``STATUS``): ``details`` holds what a client can act on, as on the
socket.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from protocol.errors import ErrorCode
from protocol.model import NO_NUL, Id, Role
from protocol.texts import DEFAULT_LOCALE, Locale

__all__ = [
    "HTTP_BODIES",
    "STATUS",
    "ErrorBody",
    "LoginBody",
    "LoginResult",
    "RegisterBody",
    "RegisterResult",
    "UserInfo",
]

Username = Annotated[str, Meta(min_length=3, max_length=64, pattern=r"^[a-zA-Z0-9_.@+-]+$")]
Password = Annotated[str, Meta(min_length=8, max_length=256), NO_NUL]

STATUS = {
    ErrorCode.INVALID: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.QUOTA_EXCEEDED: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
}


class RegisterBody(Struct):
    """``POST /v1/register``: patients and practitioners sign themselves up."""

    username: Username
    password: Password
    display_name: Annotated[str, Meta(min_length=1, max_length=128), NO_NUL]
    role: Role = Role.PATIENT
    locale: Locale = DEFAULT_LOCALE  # what carehub speaks to them in (account.set changes it)


class LoginBody(Struct):
    """``POST /v1/login``: one device per login; ``device_id`` logs a known one in again."""

    username: Annotated[str, Meta(max_length=64), NO_NUL]
    password: Annotated[str, Meta(max_length=256), NO_NUL]
    device_name: Annotated[str, Meta(max_length=64), NO_NUL] = ""
    device_id: Id | None = None


class UserInfo(Struct):
    id: int
    username: str
    name: str
    role: Role


class RegisterResult(Struct):
    """201 Created."""

    user: UserInfo


class LoginResult(Struct):
    token: str  # the bearer token for ``hello`` and ``Authorization: Bearer``
    user: UserInfo
    device: int
    expires_at: int  # ms


class ErrorBody(Struct):
    code: ErrorCode
    message: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)


# What the JSON Schema publishes, by endpoint: request and answer.
HTTP_BODIES: dict[str, tuple[type[Struct] | None, type[Struct] | None]] = {
    "POST /v1/register": (RegisterBody, RegisterResult),
    "POST /v1/login": (LoginBody, LoginResult),
    "POST /v1/logout": (None, None),  # 204, with Authorization: Bearer
}
