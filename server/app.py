"""The composition root: ``create_app`` wires settings, store, broker and hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from protocol.errors import CloseCode
from server import http
from server.broker import Broker, MemoryBroker
from server.broker.redis import RedisBroker
from server.clock import Clock
from server.context import Context
from server.directory import Directory
from server.hub import Hub
from server.presence import Presence
from server.ratelimit import DeviceLimits
from server.reminders import LoggingGateway, NotificationGateway, run_reminders
from server.settings import Settings
from server.socket import websocket_endpoint
from server.writer import Writer
from storage import Store
from storage.blobs import BlobStore, FilesystemBlobs

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    broker: Broker | None = None,
    clock: Clock | None = None,
    blobs: BlobStore | None = None,
    gateway: NotificationGateway | None = None,
) -> Starlette:
    store = store or Store(settings.db)
    clock = clock or Clock()
    if broker is None and settings.redis:
        node = settings.node_id or f"{socket.gethostname()}-{settings.port}"
        # After an outage the live path may have missed events: clients resume.
        broker = RedisBroker(settings.redis, node, on_recovered=lambda: resume_all(hub))
    broker = broker or MemoryBroker()
    directory = Directory(
        store.threads, store.keys, store.practices, store.rules, store.delegations
    )
    hub = Hub(clock, observe=directory.observe)
    ctx = Context(
        settings=settings,
        store=store,
        broker=broker,
        hub=hub,
        writer=Writer(store.db, broker.publish, clock, settings.max_batch),
        directory=directory,
        presence=Presence(hub, directory, broker, clock),
        clock=clock,
        limits=DeviceLimits(
            (settings.calls_per_second, settings.call_burst),
            (settings.sends_per_second, settings.send_burst),
        ),
        blobs=blobs or FilesystemBlobs(Path(settings.blob_dir)),
    )

    lifecycle = Lifecycle(ctx, gateway or LoggingGateway())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await lifecycle.start()
        try:
            yield
        finally:
            await lifecycle.stop()

    app = Starlette(
        routes=[
            WebSocketRoute("/ws", websocket_endpoint),
            Route("/v1/register", http.register, methods=["POST"]),
            Route("/v1/login", http.login, methods=["POST"]),
            Route("/v1/logout", http.logout, methods=["POST"]),
            Route("/v1/files/{file}", http.download, methods=["GET"]),
            Route("/v1/threads/{thread:int}/audit", http.audit_export, methods=["GET"]),
            Route("/healthz", http.healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
        middleware=[Middleware(StartOnFirstRequest, lifecycle=lifecycle)],
    )
    app.state.ctx = ctx
    app.state.login_buckets = {}
    return app


class Lifecycle:
    """Start-up and shutdown, run by the ASGI lifespan or, on servers without
    one (daphne), by the first request."""

    def __init__(self, ctx: Context, gateway: NotificationGateway) -> None:
        self.ctx = ctx
        self.gateway = gateway
        self.started = False
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        async with self._lock:
            if self.started:
                return
            ctx = self.ctx
            if ctx.settings.migrate:
                await ctx.store.db.migrate()
            await ctx.broker.start(ctx.hub.deliver)
            ctx.writer.start()
            self._tasks = [
                asyncio.create_task(_heartbeat(ctx), name="heartbeat"),
                asyncio.create_task(_prune_events(ctx), name="retention"),
                asyncio.create_task(_sweep_uploads(ctx), name="upload-sweeper"),
                asyncio.create_task(run_reminders(ctx, self.gateway), name="reminders"),
            ]
            self.started = True

    async def stop(self) -> None:
        if not self.started:
            return
        ctx = self.ctx
        for task in self._tasks:
            task.cancel()
        ctx.hub.close_all(CloseCode.SERVER_SHUTDOWN, "server shutting down: reconnect")
        await ctx.writer.stop()
        await ctx.broker.stop()
        await ctx.store.close()


def resume_all(hub: Hub) -> None:
    hub.close_all(CloseCode.RESUME, "the server may have missed events: reconnect and resume")


class StartOnFirstRequest:
    def __init__(self, app: ASGIApp, lifecycle: Lifecycle) -> None:
        self.app = app
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" and not self.lifecycle.started:
            await self.lifecycle.start()
        await self.app(scope, receive, send)


async def _heartbeat(ctx: Context) -> None:
    interval = ctx.settings.heartbeat_seconds
    while True:
        await asyncio.sleep(interval / 2)
        ctx.hub.heartbeat(interval)


async def _prune_events(ctx: Context) -> None:
    """Drop durable events past retention; older cursors get ``sync.reset``."""
    retention = ctx.settings.event_retention_seconds
    while True:
        try:
            dropped = await ctx.store.events.prune(ctx.clock.ms() - retention * 1000)
        except Exception:  # the store may be down; try again next round
            log.warning("pruning events failed", exc_info=True)
        else:
            if dropped:
                log.info("pruned %d events older than %d s", dropped, retention)
        await asyncio.sleep(min(3600, retention / 4))


async def _sweep_uploads(ctx: Context) -> None:
    """Delete uploads abandoned past their time, and blobs no row knows
    (a crash between writing a blob and recording it)."""
    ttl = ctx.settings.upload_ttl_seconds
    while True:
        try:
            swept = await sweep_uploads(ctx)
        except Exception:  # the store may be down; try again next round
            log.warning("sweeping uploads failed", exc_info=True)
        else:
            if swept:
                log.info("swept %d abandoned uploads", swept)
        await asyncio.sleep(min(3600, ttl / 4))


async def sweep_uploads(ctx: Context) -> int:
    cutoff = ctx.clock.ms() - ctx.settings.upload_ttl_seconds * 1000
    abandoned = await ctx.store.files.abandoned(cutoff)
    present = await ctx.blobs.ids()
    orphans = sorted(present - await ctx.store.files.known(sorted(present))) if present else []
    for blob_id in (*abandoned, *orphans):
        await ctx.blobs.delete(blob_id)
    if abandoned:
        await ctx.store.files.delete(abandoned)
    return len(abandoned) + len(orphans)
