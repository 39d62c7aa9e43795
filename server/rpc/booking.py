"""booking.*: hold a slot, confirm, cancel, reschedule, mark a no-show.

Each change is planned and stored by ``server.ops.booking``: of many
patients racing for one slot exactly one holds it. Each change is a
durable ``appointment.*`` event for the patient, the practitioner and the
practice's assistants, replayed on resume.
"""

from __future__ import annotations

from functools import partial

from protocol.booking import (
    AppointmentInfo,
    AppointmentParams,
    AppointmentsResult,
    AppointmentStatus,
    CancelParams,
    ConfirmParams,
    HoldParams,
    RescheduleParams,
)
from protocol.model import Empty
from server.connection import Connection
from server.context import Services
from server.convert import appointment_info
from server.ops.booking import (
    plan_cancel,
    plan_confirm,
    plan_hold,
    plan_no_show,
    plan_reschedule,
    store_cancel,
    store_confirm,
    store_hold,
    store_no_show,
    store_reschedule,
)
from server.policy.slots import DAY_MS

__all__ = ["cancel", "confirm", "hold", "list_appointments", "no_show", "reschedule"]


async def hold(ctx: Services, conn: Connection, p: HoldParams) -> AppointmentInfo:
    plan = await plan_hold(ctx, conn, p)
    return appointment_info(await ctx.writer.run(partial(store_hold, plan)))


async def confirm(ctx: Services, conn: Connection, p: ConfirmParams) -> AppointmentInfo:
    plan = await plan_confirm(ctx, conn, p)
    return appointment_info(await ctx.writer.run(partial(store_confirm, plan)))


async def cancel(ctx: Services, conn: Connection, p: CancelParams) -> AppointmentInfo:
    plan = await plan_cancel(ctx, conn, p)
    return appointment_info(await ctx.writer.run(partial(store_cancel, plan)))


async def reschedule(ctx: Services, conn: Connection, p: RescheduleParams) -> AppointmentInfo:
    """Move a confirmed appointment, atomically."""
    plan = await plan_reschedule(ctx, conn, p)
    return await ctx.writer.run(partial(store_reschedule, plan))


async def no_show(ctx: Services, conn: Connection, p: AppointmentParams) -> AppointmentInfo:
    change = await plan_no_show(ctx, conn, p.appointment)
    return appointment_info(await ctx.writer.run(partial(store_no_show, change)))


async def list_appointments(ctx: Services, conn: Connection, _: Empty) -> AppointmentsResult:
    """The caller's appointments (booked for themselves or a relative),
    from a month ago on."""
    now = ctx.clock.ms()
    found = await ctx.store.appointments.of_patient(conn.user_id, now - 30 * DAY_MS)
    lapsed = [a.status == AppointmentStatus.HELD and (a.hold_expires_at or 0) <= now for a in found]
    return AppointmentsResult(
        [appointment_info(a) for a, gone in zip(found, lapsed, strict=True) if not gone]
    )
