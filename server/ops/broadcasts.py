"""A broadcast in steps: ``plan_broadcast`` sorts the chosen patients into
those it reaches and those it skips (with why); ``store_broadcast`` opens a
thread that takes no reply for each reached patient, in the writer's
transaction."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.model import ThreadKind
from protocol.practice import BroadcastParams, BroadcastSkip, BroadcastThread, RefusalReason
from server.connection import Connection
from server.context import Services
from server.ops.admission import require_verified_practitioner
from server.ops.threads import create_thread
from server.writer import Outgoing
from storage.tx import WriteTx

__all__ = ["BroadcastPlan", "plan_broadcast", "store_broadcast"]


@dataclass(frozen=True, slots=True)
class BroadcastPlan:
    practitioner: int
    reason: str | None
    reached: list[int]  # a thread each
    skipped: list[BroadcastSkip]
    now: int


async def plan_broadcast(ctx: Services, conn: Connection, p: BroadcastParams) -> BroadcastPlan:
    await require_verified_practitioner(ctx, conn, "send broadcasts")
    wanted = sorted(set(p.patients))
    patients, opted_out = await ctx.store.practices.reachable_by_broadcast(conn.user_id, wanted)
    skipped = [
        BroadcastSkip(
            patient,
            RefusalReason.NOT_A_PATIENT if patient not in patients else RefusalReason.OPTED_OUT,
        )
        for patient in wanted
        if patient not in patients or patient in opted_out
    ]
    reached = sorted(set(wanted) - {skip.patient for skip in skipped})
    return BroadcastPlan(conn.user_id, p.reason, reached, skipped, ctx.clock.ms())


async def store_broadcast(
    plan: BroadcastPlan, tx: WriteTx, out: list[Outgoing]
) -> list[BroadcastThread]:
    return [
        BroadcastThread(
            patient,
            await create_thread(
                tx,
                out,
                ThreadKind.PATIENT_PRACTITIONER,
                plan.practitioner,
                sorted([plan.practitioner, patient]),
                plan.now,
                reason=plan.reason,
                practitioner=plan.practitioner,
                reply_allowed=False,
            ),
        )
        for patient in plan.reached
    ]
