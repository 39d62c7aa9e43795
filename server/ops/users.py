"""Whom a person may see: their contacts, the practitioners whose threads
they read (and those practitioners' contacts), the delegates of everyone
they see, and whoever wrote in a thread they are in (one who left it, an
account deleted since: what they wrote is still read, so its author is
still named and their keys still verify it)."""

from __future__ import annotations

from collections.abc import Iterable

from protocol.e2e import Scope
from server.connection import Connection
from server.context import Services

__all__ = ["visible_among", "visible_users"]


async def visible_users(ctx: Services, conn: Connection) -> set[int]:
    now = ctx.clock.ms()
    readers_of = [p for p, grant in conn.grants.items() if grant.allows(Scope.READ, now)]
    visible = {conn.user_id, *await ctx.directory.contacts(conn.user_id), *readers_of}
    for principal in readers_of:
        visible.update(await ctx.directory.contacts(principal))
    for listed in (await ctx.directory.device_lists(visible)).values():
        visible.update(delegate.user for delegate in listed.delegates)
    return visible


async def visible_among(
    ctx: Services, conn: Connection, wanted: Iterable[int], visible: set[int] | None = None
) -> set[int]:
    """Those of ``wanted`` the caller may see (``visible``: ``visible_users``, if known)."""
    asked = set(wanted)
    visible = await visible_users(ctx, conn) if visible is None else visible
    rest = asked - visible
    if not rest:
        return asked
    now = ctx.clock.ms()
    readers_of = [p for p, grant in conn.grants.items() if grant.allows(Scope.READ, now)]
    authors = await ctx.store.threads.authors_among([conn.user_id, *readers_of], sorted(rest))
    return (asked & visible) | authors
