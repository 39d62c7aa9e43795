"""Whom a person may see: their contacts, the practitioners whose threads
they read (and those practitioners' contacts), and the delegates of
everyone they see."""

from __future__ import annotations

from protocol.e2e import Scope
from server.connection import Connection
from server.context import Services

__all__ = ["visible_users"]


async def visible_users(ctx: Services, conn: Connection) -> set[int]:
    now = ctx.clock.ms()
    readers_of = [p for p, grant in conn.grants.items() if grant.allows(Scope.READ, now)]
    visible = {conn.user_id, *await ctx.directory.contacts(conn.user_id), *readers_of}
    for principal in readers_of:
        visible.update(await ctx.directory.contacts(principal))
    for listed in (await ctx.directory.device_lists(visible)).values():
        visible.update(delegate.user for delegate in listed.delegates)
    return visible
