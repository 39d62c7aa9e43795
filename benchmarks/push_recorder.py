"""A push service on loopback for ``benchmarks.push``: it notes when each
push request arrives (monotonic clock, the generator's own) and answers 201
at once, as a healthy push service would; and a browser's side of RFC 8291,
to open what the server encrypted.

A bare ASGI app on uvicorn, no framework: the recorder shares the generator's
core with the senders and must stay far ahead of the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import http_ece
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from server.webpush import b64url

__all__ = ["Arrival", "BrowserKeys", "PushRecorder", "recording"]

_PATH = "/push/"


@dataclass(frozen=True, slots=True)
class Arrival:
    at_ns: int  # time.monotonic_ns() when the request reached the app
    device: int  # from the endpoint's path
    body: bytes  # aes128gcm, as sent


@dataclass
class PushRecorder:
    origin: str
    arrivals: list[Arrival] = field(default_factory=list)
    _grown: asyncio.Event = field(default_factory=asyncio.Event)

    def endpoint(self, device: int) -> str:
        return f"{self.origin}{_PATH}{device}"

    def note(self, arrival: Arrival) -> None:
        self.arrivals.append(arrival)
        self._grown.set()

    async def beyond(self, count: int) -> None:
        """Wait until more than ``count`` pushes have arrived."""
        while len(self.arrivals) <= count:
            self._grown.clear()
            await self._grown.wait()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        at_ns = time.monotonic_ns()
        if scope["type"] != "http" or not scope["path"].startswith(_PATH):
            await _answer(send, 404)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.note(Arrival(at_ns, int(scope["path"][len(_PATH) :]), body))
        await _answer(send, 201)


async def _answer(send: Any, status: int) -> None:
    # Without a length uvicorn answers chunked, in two writes, and each answer
    # took 40 ms more on loopback (the second write waits for a delayed ACK).
    headers = [(b"content-length", b"0")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


@contextlib.asynccontextmanager
async def recording() -> AsyncIterator[PushRecorder]:
    """A recorder listening on a free loopback port."""
    # Listening before uvicorn starts: an early request waits in the backlog.
    listening = socket.create_server(("127.0.0.1", 0), backlog=1024)
    recorder = PushRecorder(f"http://127.0.0.1:{listening.getsockname()[1]}")
    config = uvicorn.Config(recorder, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield recorder
    finally:
        server.should_exit = True
        await task
        listening.close()


class BrowserKeys:
    """A subscription's keys as a browser makes them (RFC 8291 §2): a P-256
    key pair and a 16-byte auth secret; ``open`` decrypts a push body."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.public = self.private.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        self.auth = os.urandom(16)

    @property
    def p256dh(self) -> str:
        return b64url(self.public)

    @property
    def auth_b64(self) -> str:
        return b64url(self.auth)

    def open(self, body: bytes) -> bytes:
        """The plaintext of an ``aes128gcm`` push body (RFC 8291)."""
        return bytes(
            http_ece.decrypt(
                body, private_key=self.private, auth_secret=self.auth, version="aes128gcm"
            )
        )
