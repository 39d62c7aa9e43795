"""A WebSocket over bare ASGI ``receive`` and ``send``: what ``/ws`` needs
and nothing more.

Each of tens of thousands of idle links has its endpoint coroutine waiting
for the close, so every frame of coroutine between the ASGI server and that
wait is paid once per link. Through Starlette's router it waited under
eleven of them (middleware, exception wrappers, route, session), and each
frame sent passed Starlette's state checks; ``server.app.Front`` hands
``/ws`` to the endpoint directly (benchmarks/README.md, "Issue 22, fourth
session").
"""

from __future__ import annotations

from typing import Any

from starlette.types import Receive, Scope, Send

__all__ = ["Disconnected", "Socket"]


class Disconnected(Exception):
    """The client is gone (or never finished the handshake)."""


class Socket:
    __slots__ = ("_receive", "_send", "close_sent", "scope")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.close_sent = False

    @property
    def subprotocols(self) -> list[str]:
        return list(self.scope.get("subprotocols", ()))

    async def accept(self, subprotocol: str | None = None) -> None:
        if (await self._receive())["type"] != "websocket.connect":
            raise Disconnected
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol})

    async def receive(self) -> bytes | None:
        """The next message's bytes (None for a text frame, which the wire
        refuses); ``Disconnected`` once the client has left."""
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            raise Disconnected
        data: bytes | None = message.get("bytes")
        return data

    async def send(self, frame: bytes) -> None:
        await self._send_message({"type": "websocket.send", "bytes": frame})

    async def close(self, code: int, reason: str) -> None:
        if not self.close_sent:
            self.close_sent = True
            await self._send_message({"type": "websocket.close", "code": code, "reason": reason})

    async def _send_message(self, message: dict[str, Any]) -> None:
        try:
            await self._send(message)
        except OSError as exc:  # uvicorn's ClientDisconnected; a reset transport
            raise Disconnected from exc
