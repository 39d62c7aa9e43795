"""broadcasts.create, broadcasts.opt_out, broadcasts.opt_in

A broadcast (a prevention campaign) reaches each chosen patient of the
practitioner in an ordinary thread of its own that takes no reply. The
server creates the threads; the practitioner's client seals the message for
each thread's devices and sends it (``Secure.broadcast``): end-to-end
encryption means one envelope per patient. Patients who opted out of this
practitioner's broadcasts, and people who are not their patients, are
skipped and listed with why.
"""

from __future__ import annotations

from protocol.model import Empty, Role, ThreadKind
from protocol.practice import (
    BroadcastParams,
    BroadcastResult,
    BroadcastSkip,
    BroadcastThread,
    PractitionerParams,
    RefusalReason,
)
from server.connection import Connection
from server.context import Context
from server.errors import not_found
from server.ops.admission import require_role, require_verified_practitioner
from server.ops.threads import create_thread
from server.writer import Outgoing
from storage.tx import WriteTx

__all__ = ["create_broadcast", "opt_in", "opt_out"]


async def create_broadcast(ctx: Context, conn: Connection, p: BroadcastParams) -> BroadcastResult:
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
    now = ctx.clock.ms()

    async def create(tx: WriteTx, out: list[Outgoing]) -> list[BroadcastThread]:
        return [
            BroadcastThread(
                patient,
                await create_thread(
                    tx,
                    out,
                    ThreadKind.PATIENT_PRACTITIONER,
                    conn.user_id,
                    sorted([conn.user_id, patient]),
                    now,
                    reason=p.reason,
                    practitioner=conn.user_id,
                    reply_allowed=False,
                ),
            )
            for patient in reached
        ]

    threads = await ctx.writer.run(create) if reached else []
    return BroadcastResult(threads, skipped)


async def opt_out(ctx: Context, conn: Connection, p: PractitionerParams) -> Empty:
    return await _set(ctx, conn, p.practitioner, out=True)


async def opt_in(ctx: Context, conn: Connection, p: PractitionerParams) -> Empty:
    return await _set(ctx, conn, p.practitioner, out=False)


async def _set(ctx: Context, conn: Connection, practitioner: int, *, out: bool) -> Empty:
    require_role(conn, Role.PATIENT, "opt out of broadcasts")
    users = await ctx.store.accounts.users([practitioner])
    if practitioner not in users or users[practitioner].role != Role.PRACTITIONER:
        raise not_found("no such practitioner", practitioner=practitioner)
    await ctx.store.practices.set_opt_out(practitioner, conn.user_id, out, ctx.clock.ms())
    return Empty()
