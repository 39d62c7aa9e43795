"""A care-team group's members, in steps (``threads.add_member``,
``threads.remove_member``): ``plan_add_member`` and ``plan_remove_member``
authorize into a ``MemberChange``; ``store_added`` and ``store_removed``
run in the writer's transaction, where the member's window in the event
stream starts or ends (``Emitted.position``)."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.codec import to_raw
from protocol.methods import ThreadMemberParams
from protocol.model import Role, ThreadInfo, ThreadKind
from protocol.practice import Notice, NoticeKind, RefusalReason
from server.broker.control import ThreadChanged
from server.connection import Connection
from server.context import Services
from server.errors import not_found
from server.notices import post_notice
from server.ops.access import thread_of
from server.ops.admission import require_care_principals, require_patients_of, require_verified
from server.ops.threads import emit_thread, shared_info
from server.policy import CARE_ROLES, Refusal, thread_open_refusal
from server.writer import Emitted, Outgoing
from storage.tx import WriteTx

__all__ = ["MemberChange", "plan_add_member", "plan_remove_member", "store_added", "store_removed"]


@dataclass(frozen=True, slots=True)
class MemberChange:
    """``user`` joins or leaves the group ``thread`` by the hand of ``by``."""

    thread: int
    user: int
    by: int
    now: int


async def plan_add_member(ctx: Services, conn: Connection, p: ThreadMemberParams) -> MemberChange:
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
    return MemberChange(p.thread, p.user, conn.user_id, ctx.clock.ms())


async def plan_remove_member(
    ctx: Services, conn: Connection, p: ThreadMemberParams
) -> MemberChange:
    members = await _group_members(ctx, conn, p.thread)
    if p.user != conn.user_id and members[conn.user_id] not in CARE_ROLES:
        raise Refusal(RefusalReason.NOT_CARE_TEAM, "only the care team removes members").error()
    if p.user not in members:
        raise not_found("not a member of this thread", user=p.user)
    return MemberChange(p.thread, p.user, conn.user_id, ctx.clock.ms())


async def store_added(plan: MemberChange, tx: WriteTx, out: Emitted) -> None:
    """Add the member and tell everyone, unless they are one already."""
    if not await tx.threads.add_member(plan.thread, plan.user, await out.position(tx), plan.now):
        return
    recipients = sorted(await tx.threads.read_seqs(plan.thread))
    await _notice(tx, out, NoticeKind.MEMBER_ADDED, plan, recipients)
    await emit_thread(tx, out, plan.thread, plan.by, recipients)


async def store_removed(plan: MemberChange, tx: WriteTx, out: Emitted) -> ThreadInfo | None:
    """Remove the member, tell the others and them; None if they were
    removed a moment ago."""
    before = await tx.threads.record(plan.thread, plan.user)
    if before is None:
        return None
    await tx.threads.remove_member(plan.thread, plan.user, await out.position(tx))
    remaining = sorted(await tx.threads.read_seqs(plan.thread))
    if remaining:
        await _notice(tx, out, NoticeKind.MEMBER_REMOVED, plan, remaining)
        info = await emit_thread(tx, out, plan.thread, remaining[0], remaining)
    else:  # the last one left: nobody to tell but them
        info = shared_info(before)
        info.members = [m for m in info.members if m.user != plan.user]
    out.append(  # to the removed member only: addressed to them, not to the thread
        Outgoing(
            "thread.updated",
            to_raw(info),
            [plan.user],
            user_id=plan.user,
            control=ThreadChanged(plan.thread, [plan.user]),
        )
    )
    return info


async def _notice(
    tx: WriteTx, out: list[Outgoing], kind: NoticeKind, plan: MemberChange, recipients: list[int]
) -> None:
    await post_notice(
        tx,
        out,
        thread_id=plan.thread,
        author=plan.by,
        notice=Notice(kind, by=plan.by, user=plan.user),
        recipients=recipients,
        now=plan.now,
    )


async def _group_members(ctx: Services, conn: Connection, thread_id: int) -> dict[int, Role]:
    thread = await thread_of(ctx, conn, thread_id)
    if thread.kind is not ThreadKind.GROUP:
        raise Refusal(
            RefusalReason.ROLE, "members are added to and removed from group threads only"
        ).error()
    return dict(thread.members)
