"""Account calls over HTTP: register and log in (to get a device token)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from clients.errors import AuthError, CallError

__all__ = ["Credentials", "login", "logout", "register"]


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str
    user_id: int
    device_id: int
    role: str
    expires_at: int


async def _post(base_url: str, path: str, body: dict[str, Any], token: str | None = None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post(path, json=body, headers=headers)
    if response.status_code == 204:
        return None
    payload = response.json()
    if response.is_error:
        error = CallError(payload.get("code", "internal"), payload.get("message", ""), payload)
        raise AuthError(str(error)) if response.status_code == 401 else error
    return payload


async def register(
    base_url: str, username: str, password: str, display_name: str, role: str = "patient"
) -> dict[str, Any]:
    body = {"username": username, "password": password, "display_name": display_name, "role": role}
    result: dict[str, Any] = (await _post(base_url, "/v1/register", body))["user"]
    return result


async def login(
    base_url: str,
    username: str,
    password: str,
    *,
    device_name: str = "",
    device_id: int | None = None,
) -> Credentials:
    """Log in; without ``device_id`` this registers a new device."""
    body: dict[str, Any] = {"username": username, "password": password, "device_name": device_name}
    if device_id is not None:
        body["device_id"] = device_id
    answer = await _post(base_url, "/v1/login", body)
    return Credentials(
        answer["token"],
        answer["user"]["id"],
        answer["device"],
        answer["user"]["role"],
        answer["expires_at"],
    )


async def logout(base_url: str, credentials: Credentials) -> None:
    await _post(base_url, "/v1/logout", {}, token=credentials.token)
