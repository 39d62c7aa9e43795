"""threads.add_member, threads.remove_member: a care-team group's members.

The care side (practitioners, assistants) adds and removes members; anyone
may leave. Each change leaves a notice every member sees. A member's window
in the event stream starts or ends with the change: a removed member gets
nothing newer (live, on resume, or by asking), only a ``thread.updated``
addressed to them saying they are out.
"""

from __future__ import annotations

from protocol.codec import to_raw
from protocol.methods import ThreadMemberParams
from protocol.model import Role, ThreadInfo, ThreadKind
from protocol.practice import Notice, NoticeKind, RefusalReason
from server.broker.control import ThreadChanged
from server.connection import Connection
from server.context import Context
from server.convert import thread_info
from server.errors import forbidden, not_found
from server.notices import post_notice
from server.ops.access import thread_of
from server.ops.admission import require_care_principals, require_patients_of, require_verified
from server.ops.threads import emit_thread, shared_info
from server.policy import CARE_ROLES, Refusal, thread_open_refusal
from server.writer import Emitted, Outgoing
from storage.tx import WriteTx

__all__ = ["add_member", "remove_member"]


async def add_member(ctx: Context, conn: Connection, p: ThreadMemberParams) -> ThreadInfo:
    members = await _group_members(ctx, conn, p.thread)
    if members[conn.user_id] not in CARE_ROLES:
        raise Refusal(RefusalReason.NOT_CARE_TEAM, "only the care team adds members").error()
    users = await ctx.store.accounts.users([p.user])
    if p.user not in users:
        raise not_found("no such user", user=p.user)
    role = Role(users[p.user].role)
    refusal = thread_open_refusal(ThreadKind.GROUP, conn.user_id, {**members, p.user: role})
    if refusal:
        raise refusal.error()
    await require_verified(ctx, conn, {conn.user_id: members[conn.user_id], p.user: role})
    principals = await require_care_principals(ctx, conn, members)
    if role is Role.PATIENT:
        await require_patients_of(ctx, principals, [p.user])
    now = ctx.clock.ms()

    async def change(tx: WriteTx, out: Emitted) -> None:
        if not await tx.threads.add_member(p.thread, p.user, await out.position(tx), now):
            return  # already a member
        recipients = sorted(await tx.threads.read_seqs(p.thread))
        await _notice(tx, out, NoticeKind.MEMBER_ADDED, p, conn.user_id, recipients, now)
        await emit_thread(tx, out, p.thread, conn.user_id, recipients)

    await ctx.writer.run(change, p.thread)
    record = await ctx.store.threads.get(p.thread, conn.user_id)
    if record is None:  # the caller was removed meanwhile
        raise forbidden("you are no longer a member of this thread", thread=p.thread)
    return thread_info(record)


async def remove_member(ctx: Context, conn: Connection, p: ThreadMemberParams) -> ThreadInfo:
    members = await _group_members(ctx, conn, p.thread)
    if p.user != conn.user_id and members[conn.user_id] not in CARE_ROLES:
        raise Refusal(RefusalReason.NOT_CARE_TEAM, "only the care team removes members").error()
    if p.user not in members:
        raise not_found("not a member of this thread", user=p.user)
    now = ctx.clock.ms()

    async def change(tx: WriteTx, out: Emitted) -> ThreadInfo | None:
        before = await tx.threads.record(p.thread, p.user)
        if before is None:
            return None  # removed a moment ago
        await tx.threads.remove_member(p.thread, p.user, await out.position(tx))
        remaining = sorted(await tx.threads.read_seqs(p.thread))
        if remaining:
            await _notice(tx, out, NoticeKind.MEMBER_REMOVED, p, conn.user_id, remaining, now)
            info = await emit_thread(tx, out, p.thread, remaining[0], remaining)
        else:  # the last one left: nobody to tell but them
            info = shared_info(before)
            info.members = [m for m in info.members if m.user != p.user]
        out.append(  # to the removed member only: addressed to them, not to the thread
            Outgoing(
                "thread.updated",
                to_raw(info),
                [p.user],
                user_id=p.user,
                control=ThreadChanged(p.thread, [p.user]),
            )
        )
        return info

    info = await ctx.writer.run(change, p.thread)
    if info is None:
        raise not_found("not a member of this thread", user=p.user)
    return info


async def _notice(
    tx: WriteTx,
    out: list[Outgoing],
    kind: NoticeKind,
    p: ThreadMemberParams,
    by: int,
    recipients: list[int],
    now: int,
) -> None:
    await post_notice(
        tx,
        out,
        thread_id=p.thread,
        author=by,
        notice=Notice(kind, by=by, user=p.user),
        recipients=recipients,
        now=now,
    )


async def _group_members(ctx: Context, conn: Connection, thread_id: int) -> dict[int, Role]:
    thread = await thread_of(ctx, conn, thread_id)
    if thread.kind is not ThreadKind.GROUP:
        raise Refusal(
            RefusalReason.ROLE, "members are added to and removed from group threads only"
        ).error()
    return dict(thread.members)
