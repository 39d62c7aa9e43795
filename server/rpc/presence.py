"""presence.set, presence.list, typing"""

from __future__ import annotations

from protocol.events import TypingChanged
from protocol.methods import Empty, PresenceListResult, PresenceSetParams, TypingParams
from protocol.model import PresenceStatus
from server.connection import Connection
from server.context import Services
from server.errors import invalid
from server.ops.access import members_of
from server.ops.live import tell

__all__ = ["list_presence", "set_presence", "typing"]


async def set_presence(ctx: Services, conn: Connection, p: PresenceSetParams) -> Empty:
    if p.status is PresenceStatus.OFFLINE:
        raise invalid("set online or away; offline is what disconnecting does")
    conn.status = p.status
    conn.foreground = p.foreground
    await ctx.presence.refresh(conn.user_id)
    return Empty()


async def list_presence(ctx: Services, conn: Connection, _: Empty) -> PresenceListResult:
    contacts = await ctx.directory.contacts(conn.user_id)
    return PresenceListResult(await ctx.presence.entries(sorted(contacts)))


async def typing(ctx: Services, conn: Connection, p: TypingParams) -> Empty:
    members = await members_of(ctx, conn, p.thread)
    data = TypingChanged(p.thread, conn.user_id, p.active)
    await tell(ctx, "typing", data, sorted(members), thread=p.thread, exclude_session=conn.session)
    return Empty()
