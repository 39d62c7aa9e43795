"""push.*, notify.*, threads.mute: a device's push subscription, a person's
notification preferences, a muted thread (docs/push.md). A Web Push
subscription names a push service's URL that the server will call: only
the services the deployment lists are accepted, so a subscription cannot
make the server call anything else. A mobile token is accepted only for a
platform the deployment pushes to."""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec

from protocol.model import Empty, ThreadInfo
from protocol.push import (
    MobilePlatform,
    MuteParams,
    NotifyPreferences,
    PushKey,
    PushRegisterParams,
    PushSubscribeParams,
)
from server.connection import Connection
from server.context import Services
from server.convert import thread_info
from server.errors import conflict, forbidden, invalid
from server.preferences import load_preferences, preference_problems
from server.settings import Settings
from storage import Conflict, PushTarget

__all__ = [
    "allowed_endpoint",
    "get_preferences",
    "mobile_platforms",
    "mute",
    "push_key",
    "register",
    "set_preferences",
    "subscribe",
    "unsubscribe",
]


def allowed_endpoint(endpoint: str, services: str) -> bool:
    """Whether ``endpoint`` is on one of ``services`` (comma-separated
    origins; ``https://*.example.net`` matches its subdomains)."""
    wanted = urlsplit(endpoint)
    if wanted.username or wanted.password or not wanted.hostname:
        return False
    for service in filter(None, (part.strip() for part in services.split(","))):
        allowed = urlsplit(service)
        if (allowed.scheme, allowed.port) != (wanted.scheme, wanted.port):
            continue
        host = allowed.hostname or ""
        if host.startswith("*.") and wanted.hostname.endswith(host[1:]):
            return True
        if host == wanted.hostname:
            return True
    return False


def mobile_platforms(settings: Settings) -> set[MobilePlatform]:
    """The mobile platforms this deployment is configured to push to."""
    configured = {
        MobilePlatform.FCM: settings.fcm_credentials_file,
        MobilePlatform.APNS: settings.apns_key_file,
    }
    return {platform for platform, key in configured.items() if key}


async def push_key(ctx: Services, conn: Connection, p: Empty) -> PushKey:
    return PushKey(ctx.vapid.public)


async def subscribe(ctx: Services, conn: Connection, p: PushSubscribeParams) -> Empty:
    if not allowed_endpoint(p.endpoint, ctx.settings.push_services):
        raise invalid("this push service is not one the deployment uses", endpoint=p.endpoint)
    target = PushTarget(conn.device_id, conn.user_id, p.endpoint, p.p256dh, p.auth, p.preview)
    return await _keep(ctx, target)


async def register(ctx: Services, conn: Connection, p: PushRegisterParams) -> Empty:
    if p.platform not in mobile_platforms(ctx.settings):
        raise invalid("this deployment does not push to these apps", platform=p.platform)
    target = PushTarget(conn.device_id, conn.user_id, p.token, "", "", p.preview, p.platform)
    return await _keep(ctx, target)


async def _keep(ctx: Services, target: PushTarget) -> Empty:
    try:
        await ctx.store.push.subscribe(target, ctx.clock.ms())
    except Conflict:
        raise conflict("this push subscription is not yours") from None
    return Empty()


async def unsubscribe(ctx: Services, conn: Connection, p: Empty) -> Empty:
    await ctx.store.push.unsubscribe(conn.device_id)
    return Empty()


async def get_preferences(ctx: Services, conn: Connection, p: Empty) -> NotifyPreferences:
    return await load_preferences(ctx.store, conn.user_id)


async def set_preferences(
    ctx: Services, conn: Connection, p: NotifyPreferences
) -> NotifyPreferences:
    problems = preference_problems(p)
    if problems:
        raise invalid("; ".join(problems), problems=problems)
    await ctx.store.push.set_preferences(conn.user_id, msgspec.msgpack.encode(p), ctx.clock.ms())
    return p


async def mute(ctx: Services, conn: Connection, p: MuteParams) -> ThreadInfo:
    record = await ctx.store.threads.set_muted(p.thread, conn.user_id, p.muted)
    if record is None:
        raise forbidden("you are not a member of this thread", thread=p.thread)
    return thread_info(record)
