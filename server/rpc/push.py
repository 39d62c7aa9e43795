"""push.key, push.subscribe, push.unsubscribe: a device's Web Push
subscription (docs/push.md). A subscription names a push service's URL that
the server will call: only the services the deployment lists are accepted,
so a subscription cannot make the server call anything else."""

from __future__ import annotations

from urllib.parse import urlsplit

from protocol.errors import ErrorCode
from protocol.model import Empty
from protocol.push import PushKey, PushSubscribeParams
from server.connection import Connection
from server.context import Context
from server.errors import ServerError, invalid
from storage import Conflict, PushTarget

__all__ = ["allowed_endpoint", "push_key", "subscribe", "unsubscribe"]


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


async def push_key(ctx: Context, conn: Connection, p: Empty) -> PushKey:
    return PushKey(ctx.vapid.public)


async def subscribe(ctx: Context, conn: Connection, p: PushSubscribeParams) -> Empty:
    if not allowed_endpoint(p.endpoint, ctx.settings.push_services):
        raise invalid("this push service is not one the deployment uses", endpoint=p.endpoint)
    target = PushTarget(conn.device_id, conn.user_id, p.endpoint, p.p256dh, p.auth, p.preview)
    try:
        await ctx.store.push.subscribe(target, ctx.clock.ms())
    except Conflict:
        raise ServerError(ErrorCode.CONFLICT, "this push subscription is not yours") from None
    return Empty()


async def unsubscribe(ctx: Context, conn: Connection, p: Empty) -> Empty:
    await ctx.store.push.unsubscribe(conn.device_id)
    return Empty()
