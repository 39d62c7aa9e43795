"""audit.list, messages.retract: what happened in a thread, and withdrawing
a message without hiding that it was sent.

The trail is for the thread's practitioners (``docs/practice.md``). A
retraction empties the message's envelope but keeps its place, sender and
time, and leaves a ``retracted`` notice every member sees.
"""

from __future__ import annotations

from collections.abc import Mapping

from protocol.e2e import Scope
from protocol.model import Empty
from protocol.practice import (
    AuditParams,
    AuditResult,
    MessageParams,
    Notice,
    NoticeKind,
)
from server.connection import Connection
from server.context import Context
from server.errors import invalid, not_found
from server.notices import NOTICE_KIND, post_notice
from server.ops.audit import audit_entries, require_trail_reader
from server.policy import delegated_member
from server.writer import Outgoing
from storage.tx import WriteTx

__all__ = ["list_audit", "retract"]


async def list_audit(ctx: Context, conn: Connection, p: AuditParams) -> AuditResult:
    await require_trail_reader(ctx, conn.user_id, conn.grants, p.thread)
    rows = await ctx.store.audit.of_thread(p.thread, p.after, p.limit + 1)
    return AuditResult(audit_entries(rows[: p.limit]), has_more=len(rows) > p.limit)


async def retract(ctx: Context, conn: Connection, p: MessageParams) -> Empty:
    now = ctx.clock.ms()

    async def change(tx: WriteTx, out: list[Outgoing]) -> None:
        message = await tx.messages.for_retraction(p.message)
        members = await tx.threads.read_seqs(message.thread_id) if message else {}
        if (
            message is None
            or message.sender_id != conn.user_id
            or message.kind == NOTICE_KIND
            or not await _still_answers(ctx, conn, message.thread_id, members, now)
        ):
            raise not_found("no message of yours with this id", id=p.message)
        if message.retracted_at is not None:
            raise invalid("this message is already retracted", id=p.message)
        await tx.messages.retract(message.id, now)
        recipients = sorted(members)
        notice = Notice(NoticeKind.RETRACTED, by=conn.user_id, message=message.id)
        await post_notice(
            tx,
            out,
            thread_id=message.thread_id,
            author=conn.user_id,
            notice=notice,
            recipients=recipients,
            now=now,
        )

    await ctx.writer.run(change)  # its thread is known only inside
    return Empty()


async def _still_answers(
    ctx: Context, conn: Connection, thread_id: int, members: Mapping[int, int], now: int
) -> bool:
    """Whether the caller is still a member of the thread, or still answers
    in it for a practitioner (a sender who left cannot retract)."""
    if conn.user_id in members:
        return True
    roles = await ctx.directory.members(thread_id)
    return delegated_member(roles, conn.grants, Scope.REPLY, now) is not None
