"""The composition root: ``create_app`` wires settings, store, broker and hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute

from protocol.errors import CloseCode
from server import http
from server.broker import Broker, MemoryBroker
from server.clock import Clock
from server.context import Context
from server.directory import Directory
from server.hub import Hub
from server.presence import Presence
from server.settings import Settings
from server.socket import websocket_endpoint
from server.writer import Writer
from storage import Store

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    broker: Broker | None = None,
    clock: Clock | None = None,
) -> Starlette:
    store = store or Store(settings.db)
    broker = broker or MemoryBroker()
    clock = clock or Clock()
    directory = Directory(store.threads)
    hub = Hub(on_thread_changed=directory.invalidate)
    ctx = Context(
        settings=settings,
        store=store,
        broker=broker,
        hub=hub,
        writer=Writer(store.db, broker.publish, clock, settings.max_batch),
        directory=directory,
        presence=Presence(hub, directory, broker, clock),
        clock=clock,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.migrate:
            await store.db.migrate()
        await broker.start(hub.deliver)
        ctx.writer.start()
        heartbeat = asyncio.create_task(_heartbeat(ctx), name="heartbeat")
        try:
            yield
        finally:
            heartbeat.cancel()
            hub.close_all(CloseCode.SERVER_SHUTDOWN, "server shutting down: reconnect")
            await ctx.writer.stop()
            await broker.stop()
            await store.close()

    app = Starlette(
        routes=[
            WebSocketRoute("/ws", websocket_endpoint),
            Route("/v1/register", http.register, methods=["POST"]),
            Route("/v1/login", http.login, methods=["POST"]),
            Route("/v1/logout", http.logout, methods=["POST"]),
            Route("/healthz", http.healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.login_buckets = {}
    return app


async def _heartbeat(ctx: Context) -> None:
    interval = ctx.settings.heartbeat_seconds
    while True:
        await asyncio.sleep(interval / 2)
        ctx.hub.heartbeat(interval)
