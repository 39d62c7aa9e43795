"""A server's bug, played between a client and the real server: a relay
that passes every message through, and a rewrite that breaks one event
frame on the way, as a buggy server would send it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import msgspec
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from websockets import ConnectionClosed, Subprotocol
from websockets.asyncio.client import ClientConnection, connect

from protocol.codec import SUBPROTOCOL
from tests.support.pushservice import serving

__all__ = ["BreakMessageNew", "relay"]

Rewrite = Callable[[bytes], bytes]


class BreakMessageNew:
    """Gives the ``nth`` ``message.new`` event frame that passes (from 1) a
    type that is not a string, in a message of one frame or of several;
    ``broken`` has the seqs of those it broke."""

    def __init__(self, nth: int = 1) -> None:
        self.nth = nth
        self.seen = 0
        self.broken: list[int] = []

    def __call__(self, message: bytes) -> bytes:
        decoded = msgspec.msgpack.decode(message)
        frames = decoded if isinstance(decoded, list) else [decoded]
        for frame in frames:
            if frame.get("t") == "event" and frame.get("type") == "message.new":
                self.seen += 1
                if self.seen == self.nth:
                    frame["type"] = 12
                    self.broken.append(frame["seq"])
        return msgspec.msgpack.encode(decoded)


@contextlib.asynccontextmanager
async def relay(upstream: str, rewrite: Rewrite) -> AsyncIterator[str]:
    """A WebSocket endpoint on a loopback port whose every socket is relayed
    to ``upstream``, the server's messages through ``rewrite``; its URL.
    A close on either side closes the other."""

    async def accepted(client: WebSocket) -> None:
        await client.accept(subprotocol=SUBPROTOCOL)
        protocols = [Subprotocol(SUBPROTOCOL)]
        async with connect(upstream, subprotocols=protocols, max_size=None) as server:
            downstream = asyncio.create_task(_down(server, client, rewrite))
            try:
                while (message := await client.receive())["type"] == "websocket.receive":
                    await server.send(message["bytes"])
            except ConnectionClosed:
                pass  # the server closed: ``_down`` closes the client
            finally:
                await server.close()
                await downstream

    app = Starlette(routes=[WebSocketRoute("/ws", accepted)])
    async with serving(app) as origin:
        yield origin.replace("http", "ws", 1) + "/ws"


async def _down(server: ClientConnection, client: WebSocket, rewrite: Rewrite) -> None:
    """The server's messages to the client until either side closes; then
    the server's close code to a client still connected (1011 for a server
    that went without one: 1005 and 1006 are never sent)."""
    with contextlib.suppress(ConnectionClosed, WebSocketDisconnect):
        async for message in server:
            assert isinstance(message, bytes), message
            await client.send_bytes(rewrite(message))
    if client.client_state is WebSocketState.CONNECTED:
        code = server.close_code if server.close_code not in (None, 1005, 1006) else 1011
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):  # gone meanwhile
            await client.close(code, server.close_reason or "")
