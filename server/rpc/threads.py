"""threads.open, threads.list, threads.close, threads.reopen

A patient opens one thread per request, with a reason the practitioner
offers, within the practitioner's rules (``server.policy.access``); the
thread starts with the "not an emergency service" notice. Only the care side
closes and reopens a thread; either leaves a notice in it. Both are
planned and stored by ``server.ops.threads``.
"""

from __future__ import annotations

from functools import partial

from protocol.e2e import Scope
from protocol.methods import Empty, ThreadParams, ThreadsListResult, ThreadsOpenParams
from protocol.model import ThreadInfo
from server.connection import Connection
from server.context import Services
from server.convert import thread_info
from server.errors import forbidden
from server.ops.threads import plan_close, plan_open, store_close, store_open

__all__ = ["close_thread", "list_threads", "open_thread", "reopen_thread"]


async def open_thread(ctx: Services, conn: Connection, p: ThreadsOpenParams) -> ThreadInfo:
    plan = await plan_open(ctx, conn, p)
    thread_id = await ctx.writer.run(partial(store_open, plan))
    record = await ctx.store.threads.get(thread_id, conn.user_id)
    if record is None:  # only if the caller left an existing practitioners' thread
        raise forbidden("you are no longer a member of this thread", thread=thread_id)
    return thread_info(record)


async def list_threads(ctx: Services, conn: Connection, _: Empty) -> ThreadsListResult:
    """The caller's threads, then those of each practitioner they read for
    (``via``), as that practitioner sees them; each thread once."""
    found = [thread_info(t) for t in await ctx.store.threads.list_for(conn.user_id)]
    seen = {info.id for info in found}
    now = ctx.clock.ms()
    for principal, grant in sorted(conn.grants.items()):
        if not grant.allows(Scope.READ, now):
            continue
        for record in await ctx.store.threads.list_for(principal):
            if record.id not in seen:
                seen.add(record.id)
                info = thread_info(record)
                info.via = principal
                found.append(info)
    return ThreadsListResult(found)


async def close_thread(ctx: Services, conn: Connection, p: ThreadParams) -> ThreadInfo:
    return await _close_or_reopen(ctx, conn, p.thread, closing=True)


async def reopen_thread(ctx: Services, conn: Connection, p: ThreadParams) -> ThreadInfo:
    return await _close_or_reopen(ctx, conn, p.thread, closing=False)


async def _close_or_reopen(
    ctx: Services, conn: Connection, thread_id: int, *, closing: bool
) -> ThreadInfo:
    plan = await plan_close(ctx, conn, thread_id, closing=closing)
    await ctx.writer.run(partial(store_close, plan), thread_id)
    access = plan.access
    record = await ctx.store.threads.get(thread_id, access.actor)
    if record is None:
        raise forbidden("you are not a member of this thread", thread=thread_id)
    info = thread_info(record)
    info.via = access.acting_for
    return info
