"""Account calls over HTTP: register and log in (to get a device token)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import msgspec

from clients.errors import AuthError, CallError, CarehubError
from protocol.errors import ErrorCode
from protocol.http import ErrorBody, LoginBody, LoginResult, RegisterBody, RegisterResult, UserInfo
from protocol.model import Role
from protocol.texts import DEFAULT_LOCALE, Locale

__all__ = ["Credentials", "login", "logout", "register"]


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
    return AuthError(str(error)) if response.status_code == 401 else error


async def register(
    base_url: str,
    username: str,
    password: str,
    display_name: str,
    role: str = "patient",
    locale: str = DEFAULT_LOCALE,
) -> UserInfo:
    body = RegisterBody(username, password, display_name, Role(role), Locale(locale))
    answer = await _post(base_url, "/v1/register", body)
    return msgspec.json.decode(answer, type=RegisterResult).user


async def login(
    base_url: str,
    username: str,
    password: str,
    *,
    device_name: str = "",
    device_id: int | None = None,
) -> Credentials:
    """Log in; without ``device_id`` this registers a new device."""
    answer = await _post(
        base_url, "/v1/login", LoginBody(username, password, device_name, device_id)
    )
    result = msgspec.json.decode(answer, type=LoginResult)
    return Credentials(
        result.token, result.user.id, result.device, result.user.role.value, result.expires_at
    )


async def logout(base_url: str, credentials: Credentials) -> None:
    await _post(base_url, "/v1/logout", None, token=credentials.token)
