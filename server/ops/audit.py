"""A thread's audit trail: who may read it (its practitioners and their
delegates with the ``read`` scope), and its export."""

from __future__ import annotations

from collections.abc import Mapping

from protocol.e2e import Delegate, Scope
from protocol.model import Role
from protocol.practice import (
    AuditEntry,
    RefusalReason,
)
from server.context import Services
from server.policy import Refusal, delegated_member
from storage.audit import AuditRow

__all__ = ["audit_entries", "export_audit", "require_trail_reader"]


async def require_trail_reader(
    ctx: Services, user_id: int, grants: Mapping[int, Delegate], thread_id: int
) -> int | None:
    """The thread's trail is for its practitioners, and those who read for
    them; returns the practitioner a delegate reads for (None: their own)."""
    members = await ctx.directory.members(thread_id)
    if members.get(user_id) is Role.PRACTITIONER:
        return None
    reads_for = delegated_member(members, grants, Scope.READ, ctx.clock.ms())
    if reads_for is None:
        raise Refusal(
            RefusalReason.NOT_CARE_TEAM, "the trail is for the thread's practitioners"
        ).error()
    return reads_for


async def export_audit(
    ctx: Services, user_id: int, grants: Mapping[int, Delegate], thread_id: int
) -> list[AuditEntry]:
    """The whole trail, for a download."""
    await require_trail_reader(ctx, user_id, grants, thread_id)
    entries: list[AuditEntry] = []
    while True:
        page = await ctx.store.audit.of_thread(thread_id, entries[-1].id if entries else 0, 1000)
        entries += audit_entries(page)
        if len(page) < 1000:
            return entries


def audit_entries(rows: list[AuditRow]) -> list[AuditEntry]:
    return [
        AuditEntry(
            id=row.id,
            thread=row.thread_id,
            at=row.at,
            action=row.action,
            actor=row.actor_id,
            acting_for=row.acting_for,
            thread_seq=row.seq,
            user=row.user_id,
            rule=row.rule_id,
            detail=row.detail,
        )
        for row in rows
    ]
