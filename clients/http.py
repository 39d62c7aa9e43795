"""Account calls over HTTP: register and log in (to get a device token),
a second factor's enrolment, and a forgotten password's reset."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import msgspec

from clients.errors import AuthError, CallError, CarehubError
from protocol.errors import ErrorCode
from protocol.http import (
    ErrorBody,
    ForgotBody,
    LoginBody,
    LoginResult,
    RegisterBody,
    RegisterResult,
    ResetBody,
    TotpConfirmBody,
    TotpConfirmResult,
    TotpDisableBody,
    TotpEnrolBody,
    TotpEnrolResult,
    UserInfo,
)
from protocol.model import Role
from protocol.texts import DEFAULT_LOCALE, Locale

__all__ = [
    "Credentials",
    "forgot_password",
    "login",
    "logout",
    "register",
    "reset_password",
    "totp_confirm",
    "totp_disable",
    "totp_enrol",
]


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str
    user_id: int
    device_id: int
    role: str
    expires_at: int


async def _post(
    base_url: str, path: str, body: msgspec.Struct | None, token: str | None = None
) -> bytes:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    content = msgspec.json.encode(body) if body is not None else b"{}"
    headers["content-type"] = "application/json"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post(path, content=content, headers=headers)
    if response.is_error:
        raise _error(response)
    return response.content


def _error(response: httpx.Response) -> CarehubError:
    try:
        body = msgspec.json.decode(response.content, type=ErrorBody)
    except (msgspec.MsgspecError, ValueError):
        body = ErrorBody(ErrorCode.INTERNAL, f"HTTP {response.status_code}")
    error = CallError(body.code, body.message, body.details)
    return AuthError(str(error), body.details) if response.status_code == 401 else error


async def register(
    base_url: str,
    username: str,
    password: str,
    display_name: str,
    role: str = "patient",
    locale: str = DEFAULT_LOCALE,
    email: str | None = None,
    birth_date: str | None = None,
) -> UserInfo:
    """``birth_date`` (``1987-04-12``): how a patient's practitioners find them."""
    body = RegisterBody(
        username, password, display_name, Role(role), Locale(locale), email, birth_date
    )
    answer = await _post(base_url, "/v1/register", body)
    return msgspec.json.decode(answer, type=RegisterResult).user


async def login(
    base_url: str,
    username: str,
    password: str,
    *,
    device_name: str = "",
    device_id: int | None = None,
    otp: str | None = None,
) -> Credentials:
    """Log in; without ``device_id`` this registers a new device. ``otp``:
    a TOTP code or a recovery code, once the account has a second factor
    (without it, ``AuthError`` with ``details["reason"] == "second_factor"``)."""
    body = LoginBody(username, password, device_name, device_id, otp)
    answer = await _post(base_url, "/v1/login", body)
    result = msgspec.json.decode(answer, type=LoginResult)
    return Credentials(
        result.token, result.user.id, result.device, result.user.role.value, result.expires_at
    )


async def logout(base_url: str, credentials: Credentials) -> None:
    await _post(base_url, "/v1/logout", None, token=credentials.token)


async def totp_enrol(base_url: str, username: str, password: str) -> TotpEnrolResult:
    """A new TOTP secret and its ``otpauth://`` URI, until ``totp_confirm``."""
    answer = await _post(base_url, "/v1/totp/enrol", TotpEnrolBody(username, password))
    return msgspec.json.decode(answer, type=TotpEnrolResult)


async def totp_confirm(base_url: str, username: str, password: str, code: str) -> list[str]:
    """Turn the enrolled secret on with one of its codes; the recovery codes."""
    answer = await _post(base_url, "/v1/totp/confirm", TotpConfirmBody(username, password, code))
    return msgspec.json.decode(answer, type=TotpConfirmResult).recovery_codes


async def totp_disable(base_url: str, username: str, password: str, code: str) -> None:
    await _post(base_url, "/v1/totp/disable", TotpDisableBody(username, password, code))


async def forgot_password(base_url: str, username: str) -> None:
    """Ask for a reset link by email (accepted whether or not the account exists)."""
    await _post(base_url, "/v1/password/forgot", ForgotBody(username))


async def reset_password(base_url: str, token: str, password: str) -> None:
    """Spend a reset link's token: the new password; every session ends."""
    await _post(base_url, "/v1/password/reset", ResetBody(token, password))
