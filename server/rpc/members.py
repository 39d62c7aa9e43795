"""threads.add_member, threads.remove_member: a care-team group's members.

The care side (practitioners, assistants) adds and removes members; anyone
may leave. Each change leaves a notice every member sees. A member's window
in the event stream starts or ends with the change: a removed member gets
nothing newer (live, on resume, or by asking), only a ``thread.updated``
addressed to them saying they are out. Both are planned and stored by
``server.ops.members``.
"""

from __future__ import annotations

from functools import partial

from protocol.methods import ThreadMemberParams
from protocol.model import ThreadInfo
from server.connection import Connection
from server.context import Services
from server.convert import thread_info
from server.errors import forbidden, not_found
from server.ops.members import plan_add_member, plan_remove_member, store_added, store_removed

__all__ = ["add_member", "remove_member"]


async def add_member(ctx: Services, conn: Connection, p: ThreadMemberParams) -> ThreadInfo:
    plan = await plan_add_member(ctx, conn, p)
    await ctx.writer.run(partial(store_added, plan), p.thread)
    record = await ctx.store.threads.get(p.thread, conn.user_id)
    if record is None:  # the caller was removed meanwhile
        raise forbidden("you are no longer a member of this thread", thread=p.thread)
    return thread_info(record)


async def remove_member(ctx: Services, conn: Connection, p: ThreadMemberParams) -> ThreadInfo:
    plan = await plan_remove_member(ctx, conn, p)
    info = await ctx.writer.run(partial(store_removed, plan), p.thread)
    if info is None:
        raise not_found("not a member of this thread", user=p.user)
    return info
