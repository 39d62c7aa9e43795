"""A push service on loopback, for the tests: it keeps every request it gets
and answers as a real one would (201; 410 for a subscription that is gone;
429 with Retry-After when busy), so the server's requests cross a real
socket and are checked as Mozilla's or Google's service would check them."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["PushService", "Received", "push_service", "serving"]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    origin: str
    received: list[Received] = field(default_factory=list)
    arrivals: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)
    hold: Callable[[Received], bool] | None = None  # the first such request, until released
    in_hand: Received | None = None  # the one held
    held: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    async def next(self, timeout: float = 10) -> Received:
        """The next request to arrive."""
        return await asyncio.wait_for(self.arrivals.get(), timeout)


def _app(service: PushService) -> Starlette:
    async def take(request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        got = Received(request.url.path, dict(request.headers), body)
        service.received.append(got)
        service.arrivals.put_nowait(got)
        if service.hold is not None and service.hold(got):
            service.hold, service.in_hand = None, got
            service.held.set()
            await service.released.wait()
        if name.startswith("gone"):
            return Response(status_code=410)
        if name.startswith("busy"):
            return Response(status_code=429, headers={"Retry-After": "7"})
        return Response(status_code=201, headers={"Location": f"/message/{len(service.received)}"})

    return Starlette(routes=[Route("/push/{name}", take, methods=["POST"])])


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """``app`` under uvicorn on a free loopback port until the block ends;
    its origin. The socket listens before uvicorn starts: a request made at
    once waits in the kernel's queue instead of being refused."""
    listening = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        listening.close()


@contextlib.asynccontextmanager
async def push_service() -> AsyncIterator[PushService]:
    service = PushService("")
    async with serving(_app(service)) as origin:
        service.origin = origin
        try:
            yield service
        finally:
            service.released.set()
