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
from protocol.model import NO_NUL, BirthDate, Id, Role
from protocol.push import Email
from protocol.texts import DEFAULT_LOCALE, Locale

__all__ = [
    "HTTP_BODIES",
    "STATUS",
    "ErrorBody",
    "ForgotBody",
    "LoginBody",
    "LoginResult",
    "RegisterBody",
    "RegisterResult",
    "ResetBody",
    "TotpConfirmBody",
    "TotpConfirmResult",
    "TotpDisableBody",
    "TotpEnrolBody",
    "TotpEnrolResult",
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
    email: Email | None = None  # where a password reset link goes (account.email changes it)
    birth_date: BirthDate | None = None  # a patient's: how their practitioners find them


LoginName = Annotated[str, Meta(max_length=64), NO_NUL]
GivenPassword = Annotated[str, Meta(max_length=256), NO_NUL]  # checked, not judged
# A TOTP code (six digits) or a recovery code (``k7wq2-m9xtb``), as typed.
OneTimeCode = Annotated[str, Meta(min_length=6, max_length=32), NO_NUL]


class LoginBody(Struct):
    """``POST /v1/login``: one device per login; ``device_id`` logs a known
    one in again. ``otp``: the second factor, once the account has one."""

    username: LoginName
    password: GivenPassword
    device_name: Annotated[str, Meta(max_length=64), NO_NUL] = ""
    device_id: Id | None = None
    otp: OneTimeCode | None = None


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


class TotpEnrolBody(Struct):
    """``POST /v1/totp/enrol``: offer a new secret (signed in or not: a
    practitioner the deployment requires one of enrols before any login)."""

    username: LoginName
    password: GivenPassword


class TotpEnrolResult(Struct):
    secret: str  # base32, for typing it in
    uri: str  # otpauth://totp/..., for a QR code


class TotpConfirmBody(Struct):
    """``POST /v1/totp/confirm``: a code from the offered secret turns it on."""

    username: LoginName
    password: GivenPassword
    code: OneTimeCode


class TotpConfirmResult(Struct):
    recovery_codes: list[str]  # shown once: each stands in for a code, once


class TotpDisableBody(Struct):
    """``POST /v1/totp/disable``: with a code (or a recovery code)."""

    username: LoginName
    password: GivenPassword
    code: OneTimeCode


class ForgotBody(Struct):
    """``POST /v1/password/forgot``: 202 whatever the username; a reset
    link goes to the account's address if it has one."""

    username: LoginName


class ResetBody(Struct):
    """``POST /v1/password/reset``: the link's token and the new password."""

    token: Annotated[str, Meta(max_length=128), NO_NUL]
    password: Password


class ErrorBody(Struct):
    code: ErrorCode
    message: str
    details: dict[str, Any] = msgspec.field(default_factory=dict)


# What the JSON Schema publishes, by endpoint: request and answer.
HTTP_BODIES: dict[str, tuple[type[Struct] | None, type[Struct] | None]] = {
    "POST /v1/register": (RegisterBody, RegisterResult),
    "POST /v1/login": (LoginBody, LoginResult),
    "POST /v1/logout": (None, None),  # 204, with Authorization: Bearer
    "POST /v1/totp/enrol": (TotpEnrolBody, TotpEnrolResult),
    "POST /v1/totp/confirm": (TotpConfirmBody, TotpConfirmResult),
    "POST /v1/totp/disable": (TotpDisableBody, None),  # 204
    "POST /v1/password/forgot": (ForgotBody, None),  # 202
    "POST /v1/password/reset": (ResetBody, None),  # 204
}
