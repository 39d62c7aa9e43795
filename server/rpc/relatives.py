"""relatives.add, relatives.list: a patient manages a relative's profile (a
child, a parent), with the consent they gave recorded. The relative is a
patient without a login; threads and appointments can be for them."""

from __future__ import annotations

from protocol.model import Empty, Role
from protocol.practice import RelativeInfo, RelativeParams, RelativesResult
from server.connection import Connection
from server.context import Services
from server.ops.admission import require_role
from storage.relatives import RelativeRecord

__all__ = ["add_relative", "list_relatives"]


async def add_relative(ctx: Services, conn: Connection, p: RelativeParams) -> RelativeInfo:
    require_role(conn, Role.PATIENT, "manage a relative's profile")
    record = await ctx.store.relatives.add(
        conn.user_id, p.name, p.relation, p.consent, ctx.clock.ms()
    )
    return _info(record)


async def list_relatives(ctx: Services, conn: Connection, _: Empty) -> RelativesResult:
    require_role(conn, Role.PATIENT, "manage a relative's profile")
    return RelativesResult([_info(r) for r in await ctx.store.relatives.of(conn.user_id)])


def _info(record: RelativeRecord) -> RelativeInfo:
    return RelativeInfo(
        record.user_id, record.name, record.relation, record.consent, record.consent_at
    )
