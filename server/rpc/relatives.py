"""relatives.add, relatives.list, relatives.withdraw: a patient manages a
relative's profile (a child, a parent), with the consent they gave
recorded, until they withdraw it. The relative is a patient without a
login; threads and appointments can be for them."""

from __future__ import annotations

from functools import partial

from protocol.model import Empty, Role
from protocol.practice import RelativeIdParams, RelativeInfo, RelativeParams, RelativesResult
from server.connection import Connection
from server.context import Services
from server.ops.admission import require_role
from server.ops.booking import plan_releases, release_rest
from server.ops.profile import past_day
from server.ops.relatives import store_withdrawal
from storage.relatives import RelativeRecord

__all__ = ["add_relative", "list_relatives", "withdraw_relative"]

WITHDRAWN = "consent withdrawn"  # why a relative's appointments were cancelled


async def add_relative(ctx: Services, conn: Connection, p: RelativeParams) -> RelativeInfo:
    require_role(conn, Role.PATIENT, "manage a relative's profile")
    now = ctx.clock.ms()
    born = past_day(p.birth_date, now) if p.birth_date else None
    record = await ctx.store.relatives.add(conn.user_id, p.name, p.relation, p.consent, now, born)
    return _info(record)


async def list_relatives(ctx: Services, conn: Connection, _: Empty) -> RelativesResult:
    require_role(conn, Role.PATIENT, "manage a relative's profile")
    return RelativesResult([_info(r) for r in await ctx.store.relatives.of(conn.user_id)])


async def withdraw_relative(ctx: Services, conn: Connection, p: RelativeIdParams) -> Empty:
    """Stop managing the relative's profile: the caller leaves the
    relative's threads (their practitioners keep them) and no longer books,
    writes or answers for them."""
    require_role(conn, Role.PATIENT, "manage a relative's profile")
    releases = await plan_releases(ctx, conn.user_id, WITHDRAWN, subject=p.relative)
    withdrawal = partial(store_withdrawal, conn.user_id, p.relative, releases, ctx.clock.ms())
    await ctx.writer.run(withdrawal)
    await release_rest(ctx, conn.user_id, WITHDRAWN, subject=p.relative)
    return Empty()


def _info(record: RelativeRecord) -> RelativeInfo:
    return RelativeInfo(
        record.user_id,
        record.name,
        record.relation,
        record.consent,
        record.consent_at,
        record.birth_date,
    )
