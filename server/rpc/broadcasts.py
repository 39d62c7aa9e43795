"""broadcasts.create, broadcasts.opt_out, broadcasts.opt_in

A broadcast (a prevention campaign) reaches each chosen patient of the
practitioner in an ordinary thread of its own that takes no reply. The
server creates the threads; the practitioner's client seals the message for
each thread's devices and sends it (``Secure.broadcast``): end-to-end
encryption means one envelope per patient. Patients who opted out of this
practitioner's broadcasts, and people who are not their patients, are
skipped and listed with why. ``server.ops.broadcasts`` plans and stores
the threads.
"""

from __future__ import annotations

from functools import partial

from protocol.model import Empty, Role
from protocol.practice import BroadcastParams, BroadcastResult, PractitionerParams
from server.connection import Connection
from server.context import Services
from server.errors import not_found
from server.ops.admission import require_role
from server.ops.broadcasts import plan_broadcast, store_broadcast

__all__ = ["create_broadcast", "opt_in", "opt_out"]


async def create_broadcast(ctx: Services, conn: Connection, p: BroadcastParams) -> BroadcastResult:
    plan = await plan_broadcast(ctx, conn, p)
    threads = await ctx.writer.run(partial(store_broadcast, plan)) if plan.reached else []
    return BroadcastResult(threads, plan.skipped)


async def opt_out(ctx: Services, conn: Connection, p: PractitionerParams) -> Empty:
    return await _set(ctx, conn, p.practitioner, out=True)


async def opt_in(ctx: Services, conn: Connection, p: PractitionerParams) -> Empty:
    return await _set(ctx, conn, p.practitioner, out=False)


async def _set(ctx: Services, conn: Connection, practitioner: int, *, out: bool) -> Empty:
    require_role(conn, Role.PATIENT, "opt out of broadcasts")
    users = await ctx.store.accounts.users([practitioner])
    if practitioner not in users or users[practitioner].role != Role.PRACTITIONER:
        raise not_found("no such practitioner", practitioner=practitioner)
    await ctx.store.practices.set_opt_out(practitioner, conn.user_id, out, ctx.clock.ms())
    return Empty()
