"""A raw ``websockets`` client for the wire (not the SDK): frames as plain
MessagePack maps, for tests that send what no SDK would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
from websockets import ConnectionClosed, Subprotocol
from websockets.asyncio.client import ClientConnection, connect

from clients import Credentials
from protocol.codec import SUBPROTOCOL, encode
from protocol.frames import Limits, Welcome
from tests.support.server import RunningServer

TIMEOUT = 10.0


def welcome(cursor: int = 10, heartbeat_ms: int = 20_000, version: int = 1) -> bytes:
    """A server's welcome to user 3's device 7, a patient: for a scripted server."""
    limits = Limits(1024, 512, 10.0, 20, 5.0, 10, 50)
    return encode(Welcome(version, 3, "patient", 7, "s", 0, cursor, heartbeat_ms, limits))


def pack(frame: Any) -> bytes:
    return msgspec.msgpack.encode(frame)


def hello(credentials: Credentials, **overrides: Any) -> dict[str, Any]:
    frame = {"t": "hello", "versions": [1], "token": credentials.token}
    return frame | {"device": credentials.device_id} | overrides


def send_params(
    server: RunningServer, sender: Credentials, thread: int, members: list[int], text: str = "x"
) -> dict[str, Any]:
    """``messages.send`` parameters with an envelope sealed for ``members``' devices."""
    sealed = server.envelope(sender, thread, members, text)
    return {"thread": thread, "client_msg_id": sealed.msg_id.hex(), "envelope": sealed.data}


def call_frame(call_id: int, method: str, params: Any) -> bytes:
    return pack({"t": "call", "id": call_id, "method": method, "params": params})


def padded_call(call_id: int, size: int) -> bytes:
    """A ``threads.list`` call of exactly ``size`` bytes (unknown params fields are ignored)."""
    pad = 0
    for _ in range(5):
        frame = call_frame(call_id, "threads.list", {"pad": "x" * pad})
        if len(frame) == size:
            return frame
        pad += size - len(frame)
    raise AssertionError(f"cannot build a frame of {size} bytes")


@contextlib.asynccontextmanager
async def raw(server: RunningServer, *, offer: bool = True) -> AsyncIterator[ClientConnection]:
    """A socket before ``hello``; it never answers the server's pings by itself."""
    subprotocols = [Subprotocol(SUBPROTOCOL)] if offer else None
    async with connect(
        server.ws_url, subprotocols=subprotocols, max_size=None, ping_interval=None
    ) as ws:
        yield ws


async def next_frame(ws: ClientConnection, *kinds: str) -> dict[str, Any]:
    """The next frame whose ``t`` is one of ``kinds`` (any if none; others are skipped)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            data = await ws.recv()
            assert isinstance(data, bytes), data  # every frame is binary MessagePack
            frame: dict[str, Any] = msgspec.msgpack.decode(data)
            if not kinds or frame["t"] in kinds:
                return frame


async def close_code(ws: ClientConnection) -> int:
    """Read until the server closes; its close code."""
    async with asyncio.timeout(TIMEOUT):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()
    assert ws.close_code is not None
    return ws.close_code


@dataclass
class Link:
    """A socket past ``welcome``."""

    ws: ClientConnection
    welcome: dict[str, Any]

    @property
    def limits(self) -> dict[str, Any]:
        limits: dict[str, Any] = self.welcome["limits"]
        return limits

    async def send(self, frame: Any) -> None:
        await self.ws.send(frame if isinstance(frame, str | bytes) else pack(frame))

    async def receive(self, *kinds: str) -> dict[str, Any]:
        return await next_frame(self.ws, *kinds)

    async def call(self, call_id: int, method: str, params: Any) -> dict[str, Any]:
        """Send one call; its answer, which must be the next ``result`` or ``error``."""
        await self.send({"t": "call", "id": call_id, "method": method, "params": params})
        answer = await self.receive("result", "error")
        assert answer["id"] == call_id, answer
        return answer

    async def close_code(self) -> int:
        return await close_code(self.ws)


@contextlib.asynccontextmanager
async def greeted(
    server: RunningServer, credentials: Credentials, **overrides: Any
) -> AsyncIterator[Link]:
    async with raw(server) as ws:
        await ws.send(pack(hello(credentials, **overrides)))
        welcome = await next_frame(ws)  # no push precedes the welcome
        assert welcome["t"] == "welcome", welcome
        assert welcome["user"] == credentials.user_id
        yield Link(ws, welcome)


def refused(frame: dict[str, Any], code: str) -> dict[str, Any]:
    assert frame["t"] == "error", frame
    assert frame["code"] == code, frame
    assert frame["message"], frame
    return frame


def ok(frame: dict[str, Any]) -> Any:
    assert frame["t"] == "result", frame
    return frame.get("value")


def http_client(server: RunningServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT)
