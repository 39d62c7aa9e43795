"""audit.list, messages.retract: what happened in a thread, and withdrawing
a message without hiding that it was sent.

The trail is for the thread's practitioners (``docs/practice.md``). A
retraction empties the message's envelope but keeps its place, sender and
time, and leaves a ``retracted`` notice every member sees.
"""

from __future__ import annotations

from functools import partial

from protocol.model import Empty
from protocol.practice import AuditParams, AuditResult, MessageParams
from server.connection import Connection
from server.context import Services
from server.ops.audit import audit_entries, require_trail_reader
from server.ops.trace import Retraction, store_retraction

__all__ = ["list_audit", "retract"]


async def list_audit(ctx: Services, conn: Connection, p: AuditParams) -> AuditResult:
    await require_trail_reader(ctx, conn.user_id, conn.grants, p.thread)
    rows = await ctx.store.audit.of_thread(p.thread, p.after, p.limit + 1)
    return AuditResult(audit_entries(rows[: p.limit]), has_more=len(rows) > p.limit)


async def retract(ctx: Services, conn: Connection, p: MessageParams) -> Empty:
    plan = Retraction(p.message, conn.user_id, conn.grants, ctx.clock.ms())
    await ctx.writer.run(partial(store_retraction, plan))  # its thread is known only inside
    return Empty()
