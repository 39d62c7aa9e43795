"""threads.open, threads.list"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from protocol.codec import to_raw
from protocol.methods import Empty, ThreadsListResult, ThreadsOpenParams
from protocol.model import Member, Role, ThreadInfo
from server.connection import Connection
from server.context import Context
from server.convert import thread_info
from server.errors import forbidden, not_found
from server.policy import pair_key, thread_open_refusal
from server.writer import Outgoing
from storage.threads import Threads

__all__ = ["list_threads", "open_thread"]


async def open_thread(ctx: Context, conn: Connection, p: ThreadsOpenParams) -> ThreadInfo:
    member_ids = {*p.members, conn.user_id}
    users = await ctx.store.accounts.users(member_ids)
    missing = sorted(member_ids - users.keys())
    if missing:
        raise not_found("no such user", users=missing)
    roles = {user_id: Role(user.role) for user_id, user in users.items()}
    refusal = thread_open_refusal(p.kind, conn.user_id, roles)
    if refusal:
        raise forbidden(refusal)
    key = pair_key(p.kind, member_ids)
    now = ctx.clock.ms()
    members = [
        Member(u.id, roles[u.id], u.display_name)
        for u in sorted(users.values(), key=lambda u: u.id)
    ]

    async def create(db: AsyncConnection, out: list[Outgoing]) -> int:
        existing = await Threads.find_pair(db, key) if key else None
        if existing is not None:
            return existing
        thread_id = await Threads.create(
            db, p.kind.value, conn.user_id, sorted(member_ids), now, key
        )
        info = ThreadInfo(thread_id, p.kind, members, conn.user_id, now)
        recipients = sorted(member_ids)
        out.append(
            Outgoing(
                "thread.updated", to_raw(info), recipients, thread_id, thread_changed=thread_id
            )
        )
        return thread_id

    thread_id = await ctx.writer.run(create)
    record = await ctx.store.threads.get(thread_id, conn.user_id)
    if record is None:  # only if the caller left an existing pair thread
        raise forbidden("you are no longer a member of this thread", thread=thread_id)
    return thread_info(record)


async def list_threads(ctx: Context, conn: Connection, _: Empty) -> ThreadsListResult:
    return ThreadsListResult(
        [thread_info(t) for t in await ctx.store.threads.list_for(conn.user_id)]
    )
