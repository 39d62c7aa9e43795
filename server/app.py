"""The composition root: ``create_app`` wires settings, store, broker and hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import assert_never

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from protocol.errors import CloseCode
from server import http, http_security
from server.auth import Passwords
from server.broker import Broker, MemoryBroker
from server.broker.control import (
    AccessChanged,
    Control,
    KeysChanged,
    PracticeChanged,
    SessionsEnded,
    ThreadChanged,
)
from server.broker.redis import RedisBroker
from server.chores import repeat_while_held
from server.clock import Clock
from server.context import Context
from server.directory import Directory
from server.ending import ended
from server.errors import ServerError
from server.hub import Hub
from server.mail import MailGateway
from server.mobilepush import ApnsSender, FcmSender
from server.ops.receipts import write_receipts
from server.popup_counts import PopupCounts
from server.presence import Presence
from server.push_queue import PushGateway, push_round
from server.pushing import PushSender, WebPushSender
from server.receipt_writes import ReceiptWrites
from server.reminders import LoggingGateway, NotificationGateway, remind
from server.settings import Settings
from server.socket import websocket_endpoint
from server.stream import Follower
from server.webapp import web_routes
from server.webpush import VapidKey
from server.websocket import Socket
from server.writer import Writer
from storage import Store, Unavailable
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
) -> Front:
    store = store or Store(settings.db)
    clock = clock or Clock()
    if broker is None and settings.redis:
        node = settings.node_id or f"{socket.gethostname()}-{settings.port}"
        broker = RedisBroker(
            settings.redis,
            node,
            on_recovered=lambda: recovered(ctx),
            alive_seconds=settings.node_timeout_seconds,
        )
    broker = broker or MemoryBroker()
    directory = Directory(
        store.threads, store.keys, store.practices, store.rules, store.delegations
    )
    hub = Hub(clock, sockets_per_device=settings.sockets_per_device)
    writer = Writer(
        store.db, broker.publish, clock, settings.max_batch, publish_control=broker.publish_control
    )
    ctx = Context(
        settings=settings,
        store=store,
        broker=broker,
        hub=hub,
        writer=writer,
        directory=directory,
        presence=Presence(hub, directory, broker, clock),
        clock=clock,
        blobs=blobs or FilesystemBlobs(Path(settings.blob_dir)),
        passwords=Passwords(settings.password_hashes_at_once),
        vapid=VapidKey.load_or_create(Path(settings.push_key_file)),
        receipt_writes=ReceiptWrites(write_receipts(writer, settings.receipts_wait_seconds)),
        popup_counts=PopupCounts(store.messages),
    )
    if not broker.complete:
        ctx.follower = Follower(store.db, hub, settings.stream_poll_seconds)

    lifecycle = Lifecycle(ctx, notification_gateway(ctx, gateway))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await lifecycle.start()
        try:
            yield
        finally:
            await lifecycle.stop()

    app = Starlette(
        routes=[
            Route("/v1/register", http.register, methods=["POST"]),
            Route("/v1/login", http.login, methods=["POST"]),
            Route("/v1/logout", http.logout, methods=["POST"]),
            Route("/v1/totp/enrol", http_security.totp_enrol, methods=["POST"]),
            Route("/v1/totp/confirm", http_security.totp_confirm, methods=["POST"]),
            Route("/v1/totp/disable", http_security.totp_disable, methods=["POST"]),
            Route("/v1/password/forgot", http_security.forgot_password, methods=["POST"]),
            Route("/v1/password/reset", http_security.reset_password, methods=["POST"]),
            Route("/v1/files/{file}", http.download, methods=["GET"]),
            Route("/v1/threads/{thread:int}/audit", http.audit_export, methods=["GET"]),
            Route("/healthz", http.healthz, methods=["GET"]),
            *web_routes(settings.web_dir),
        ],
        lifespan=lifespan,
        exception_handlers={ServerError: http.refused, Unavailable: http.store_unavailable},
    )
    app.state.ctx = ctx
    app.state.lifecycle = lifecycle
    return Front(app, lifecycle)


class Lifecycle:
    """Start-up and shutdown, run by the ASGI lifespan or, on servers without
    one (daphne), by the first request."""

    def __init__(self, ctx: Context, gateway: PushGateway) -> None:
        self.ctx = ctx
        self.gateway = gateway
        self.started = False
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._leases: list[str] = []

    async def start(self) -> None:
        async with self._lock:
            if self.started:
                return
            ctx = self.ctx
            if ctx.settings.migrate:
                await ctx.store.db.migrate()
            if ctx.follower is None:
                ctx.hub.delivered = await ctx.store.events.head()
            else:
                await ctx.follower.start()  # before any delivery can wake it
            await ctx.broker.start(ctx.hub.deliver, lambda message: obey(ctx, message))
            await ctx.presence.reap()  # what a crash of this node left, at once
            ctx.writer.start()
            s = ctx.settings
            retention, uploads = (
                min(3600, s.event_retention_seconds / 4),
                min(3600, s.upload_ttl_seconds / 4),
            )
            self._tasks = [
                asyncio.create_task(_heartbeat(ctx), name="heartbeat"),
                self._singleton("retention", retention, lambda: prune_events(ctx)),
                self._singleton("uploads", uploads, lambda: sweep_uploads(ctx)),
                self._singleton(
                    "reminders", s.reminder_poll_seconds, lambda: remind(ctx, self.gateway)
                ),
                self._singleton("presence", s.node_timeout_seconds / 3, ctx.presence.reap),
                self._singleton("push", s.push_poll_seconds, lambda: push_round(ctx, self.gateway)),
            ]
            if s.chat_retention_days:
                expiry = self._singleton("chat", 3600, lambda: expire_chat_copies(ctx))
                self._tasks.append(expiry)
            self.started = True

    def _singleton(
        self, lease: str, seconds: float, work: Callable[[], Awaitable[object]]
    ) -> asyncio.Task[None]:
        """Run ``work`` every ``seconds`` on whichever node holds ``lease``."""
        self._leases.append(lease)
        chore = repeat_while_held(self.ctx.broker.leases, lease, seconds, work)
        return asyncio.create_task(chore, name=lease)

    async def drain(self, seconds: float) -> None:
        """A graceful stop's first step (SIGTERM): take no new socket; let each
        open one answer the calls it has taken, send what it has queued, and
        close with ``SERVER_SHUTDOWN`` (reconnect, to another node); hand the
        chores' leases over. At most ``seconds``; ``stop`` closes what is left."""
        ctx = self.ctx
        ctx.draining = True
        ctx.writer.stop_waiting()  # the calls being finished wait for no receipt's company
        for conn in ctx.hub:
            conn.finish(CloseCode.SERVER_SHUTDOWN, "server shutting down: reconnect elsewhere")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await ctx.hub.emptied()
        await self._release_leases()

    async def _release_leases(self) -> None:
        for lease in self._leases:
            await self.ctx.broker.leases.release(lease)

    async def stop(self) -> None:
        if not self.started:
            return
        ctx = self.ctx
        await ended(*self._tasks)  # none holds Redis now
        await self._release_leases()
        ctx.hub.close_all(CloseCode.SERVER_SHUTDOWN, "server shutting down: reconnect")
        ctx.writer.stop_waiting()  # a receipt waiting for company goes now
        await ctx.receipt_writes.drain()  # its next write would find the writer stopped
        await ctx.writer.stop()
        if ctx.follower is not None:
            await ctx.follower.stop()
        await ctx.broker.stop()
        await ctx.store.close()
        await self.gateway.close()


def notification_gateway(ctx: Context, given: NotificationGateway | None) -> PushGateway:
    """Pushes through each configured platform; emails (and reminders)
    through ``given``, else SMTP when configured, else the log."""
    senders: dict[str, PushSender] = {
        "web": WebPushSender(ctx.vapid, ctx.settings.push_contact),
    }
    for platform, mobile in (("fcm", FcmSender), ("apns", ApnsSender)):
        sender = mobile.from_settings(ctx.settings)
        if sender is not None:
            senders[platform] = sender
    return PushGateway(ctx, senders, given or MailGateway.from_settings(ctx) or LoggingGateway())


def obey(ctx: Context, message: Control) -> None:
    """Act on a control message from any node, this one included: drop the
    caches it makes stale, close the sockets it ends. Also read the stream
    now: the commit that sent it has events, and their deliveries wake only
    their recipients' nodes; this one moves its cursor past them as soon (a
    client that connects here next starts after them, as it would there)."""
    if ctx.follower is not None:
        ctx.follower.wake()
    match message:
        case ThreadChanged(thread, members):
            ctx.directory.invalidate(thread, members)
        case KeysChanged(user):
            ctx.directory.forget_device_lists([user])
        case PracticeChanged(practitioner):
            ctx.directory.forget_practitioner(practitioner)
        case AccessChanged(delegate):
            ctx.directory.forget_grants(delegate)
            ctx.hub.close_access(delegate)
        case SessionsEnded(user, tokens, why):
            ctx.hub.close_sessions(user, tokens, why)
        case _:
            assert_never(message)


def recovered(ctx: Context) -> None:
    """The broker is back after an outage. Durable events come from storage,
    so none was missed: the follower just reads now. What was published
    meanwhile may have been lost: control messages (the caches are emptied,
    delegates' sockets reconnect with their current delegations, logouts are
    checked in storage) and presence (written again)."""
    ctx.directory.forget_all()
    if ctx.follower is not None:
        ctx.follower.wake()
    ctx.hub.close_delegates(CloseCode.ACCESS_CHANGED, "delegations may have changed: reconnect")
    for chore in (ctx.presence.resync(), close_revoked(ctx)):
        _background.add(task := asyncio.create_task(chore))
        task.add_done_callback(_background.discard)


async def close_revoked(ctx: Context) -> None:
    """Close the sockets whose token was logged out (or expired) meanwhile."""
    revoked = await ctx.store.accounts.revoked({c.token_hash for c in ctx.hub}, ctx.clock.ms())
    for conn in list(ctx.hub):
        if conn.token_hash in revoked:
            conn.close(CloseCode.TOKEN_REVOKED, "logged out")


_background: set[asyncio.Task[None]] = set()


class Front:
    """The ASGI application: starts the lifecycle on the first request where
    the server has no lifespan (daphne), hands ``/ws`` straight to the socket
    endpoint (``server.websocket`` says why) and the rest to Starlette."""

    def __init__(self, app: Starlette, lifecycle: Lifecycle) -> None:
        self.app = app
        self.lifecycle = lifecycle
        self.state = app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" and not self.lifecycle.started:
            await self.lifecycle.start()
        if scope["type"] == "websocket" and _route_path(scope) == "/ws":
            await websocket_endpoint(self.lifecycle.ctx, Socket(scope, receive, send))
        else:
            await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path under the application's ``root_path``, as Starlette routes it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _heartbeat(ctx: Context) -> None:
    interval = ctx.settings.heartbeat_seconds
    while True:
        await asyncio.sleep(interval / 2)
        ctx.hub.heartbeat(interval)


async def prune_events(ctx: Context) -> None:
    """Drop durable events past retention (older cursors get ``sync.reset``)
    and the hourly message counts no daily limit reads any more."""
    retention, now = ctx.settings.event_retention_seconds, ctx.clock.ms()
    dropped = await ctx.store.events.prune(now - retention * 1000)
    if dropped:
        log.info("pruned %d events older than %d s", dropped, retention)
    await ctx.store.messages.forget_sent_counts(now)


async def expire_chat_copies(ctx: Context) -> int:
    """Empty the messages past the chat retention, and delete the documents
    of their time (``storage.retention``); how many messages."""
    now = ctx.clock.ms()
    cutoff = now - ctx.settings.chat_retention_days * 24 * 3600 * 1000
    filed = await ctx.store.retention.filed()
    emptied, after = 0, 0
    while True:
        lost, more_after = await ctx.store.retention.expire(cutoff, now, filed, after, 1000)
        for expired in lost.values():
            emptied += expired.messages
            for blob_id in expired.documents:
                await ctx.blobs.delete(blob_id)
        if more_after is None:
            break
        after = more_after
    if emptied:
        log.info("emptied %d messages past the chat retention", emptied)
    return emptied


async def sweep_uploads(ctx: Context) -> int:
    """Delete uploads abandoned past their time, and blobs no row knows
    (a crash between writing a blob and recording it)."""
    cutoff = ctx.clock.ms() - ctx.settings.upload_ttl_seconds * 1000
    abandoned = await ctx.store.files.abandoned(cutoff)
    present = await ctx.blobs.ids()
    orphans = sorted(present - await ctx.store.files.known(sorted(present))) if present else []
    for blob_id in (*abandoned, *orphans):
        await ctx.blobs.delete(blob_id)
    if abandoned:
        await ctx.store.files.delete(abandoned)
    if abandoned or orphans:
        log.info("swept %d abandoned uploads", len(abandoned) + len(orphans))
    return len(abandoned) + len(orphans)
