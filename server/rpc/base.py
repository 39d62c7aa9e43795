"""What every handler shares: its signature and the membership check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from protocol.model import Role
from server.connection import Connection
from server.context import Context
from server.directory import ThreadMeta
from server.errors import forbidden

__all__ = ["Handler", "members_of", "thread_of"]

Handler = Callable[[Context, Connection, Any], Awaitable[Any]]


async def thread_of(ctx: Context, conn: Connection, thread_id: int) -> ThreadMeta:
    """The thread's kind and members, if the caller is one of them;
    ``forbidden`` otherwise."""
    meta = await ctx.directory.thread(thread_id)
    if conn.user_id not in meta.members:
        raise forbidden("you are not a member of this thread", thread=thread_id)
    return meta


async def members_of(ctx: Context, conn: Connection, thread_id: int) -> Mapping[int, Role]:
    """The thread's members, if the caller is one of them; ``forbidden`` otherwise."""
    return (await thread_of(ctx, conn, thread_id)).members
