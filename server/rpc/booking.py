"""booking.*: hold a slot, confirm, cancel, reschedule, mark a no-show.

Every change runs in the writer's transaction after ``Agendas.lock``, so of
many patients racing for one slot exactly one holds it and the others get
``conflict`` (``slot_taken``), on SQLite and on PostgreSQL, across nodes.
Each change is a durable ``appointment.*`` event for the patient, the
practitioner and the practice's assistants, replayed on resume.
"""

from __future__ import annotations

from enum import Enum

from protocol.booking import (
    HOLD_MINUTES,
    AgendaSettings,
    AppointmentInfo,
    AppointmentParams,
    AppointmentsResult,
    AppointmentStatus,
    BookingRefusal,
    CancelParams,
    ConfirmParams,
    HoldParams,
    RescheduleParams,
)
from protocol.codec import to_raw
from protocol.e2e import Delegate, Scope
from protocol.errors import ErrorCode
from protocol.model import Empty, Role
from server.connection import Connection
from server.context import Context
from server.convert import appointment_info
from server.errors import ServerError, invalid, not_found
from server.ops.agenda import (
    agenda_of,
    agenda_owner,
    decode_settings,
    split_exceptions,
    visit_reason,
)
from server.policy import Refusal
from server.policy.slots import DAY_MS, MINUTE_MS, slot_refusal
from server.writer import Outgoing
from storage.appointments import AppointmentRecord
from storage.tx import WriteTx

__all__ = ["cancel", "confirm", "hold", "list_appointments", "no_show", "reschedule"]

MAX_LIVE_HOLDS = 3  # per patient: holding every slot of a practitioner is not a plan


class Side(Enum):
    PATIENT = "patient"  # who booked it (for themselves or a relative)
    PRACTICE = "practice"  # the practitioner, or whoever keeps their agenda


def _refused(reason: BookingRefusal, text: str, **details: object) -> ServerError:
    code = ErrorCode.CONFLICT if reason in _CONFLICTS else ErrorCode.FORBIDDEN
    return Refusal(reason, text, dict(details), code).error()


_CONFLICTS = {BookingRefusal.SLOT_TAKEN, BookingRefusal.HOLD_EXPIRED, BookingRefusal.WRONG_STATUS}


async def _locked_settings(tx: WriteTx, practitioner: int) -> AgendaSettings:
    blob = await tx.agendas.lock(practitioner)
    if blob is None:
        raise not_found("this practitioner takes no bookings", practitioner=practitioner)
    return decode_settings(blob)


async def _check_slot(
    tx: WriteTx,
    settings: AgendaSettings,
    practitioner: int,
    reason: str,
    start: int,
    now: int,
    *,
    is_patient: bool,
    by_practice: bool,
    excluding: int | None = None,
) -> int:
    """Refuse a slot the rules or another booking keep; its end otherwise."""
    exceptions = await tx.agendas.exceptions_in(practitioner, start - DAY_MS, start + DAY_MS)
    openings, closed = split_exceptions(exceptions)
    refusal = slot_refusal(
        settings,
        reason,
        start,
        now,
        is_patient=is_patient,
        openings=openings,
        closed=closed,
        by_practice=by_practice,
    )
    if refusal:
        raise refusal.error()
    end = start + visit_reason(settings, reason).minutes * MINUTE_MS
    if await tx.appointments.overlaps(practitioner, start, end, now, excluding=excluding):
        raise _refused(BookingRefusal.SLOT_TAKEN, "someone else has this slot: choose another")
    return end


async def _audience(ctx: Context, practitioner: int, patient: int) -> list[int]:
    """The patient, the practitioner, and those who keep the practitioner's
    agenda now (a delegation with ``agenda``): an assistant of the practice
    without one, or whose delegation ended, is not told."""
    now = ctx.clock.ms()
    keepers = {
        record.delegate_id
        for record in await ctx.store.delegations.by(practitioner)
        if Delegate(record.delegate_id, record.grant.scope, record.grant.expires).allows(
            Scope.AGENDA, now
        )
    }
    return sorted({patient, practitioner, *keepers})


def _emit(out: list[Outgoing], kind: str, info: AppointmentInfo, audience: list[int]) -> None:
    data = to_raw(info)
    for user in audience:  # one stored event each, so each replays it once
        out.append(Outgoing(f"appointment.{kind}", data, [user], user_id=user))


def _reminders(settings: AgendaSettings, start: int, now: int) -> list[tuple[int, int]]:
    due = [(m, start - m * MINUTE_MS) for m in settings.reminder_minutes]
    return [(m, at) for m, at in due if at > now]


def _side(ctx: Context, conn: Connection, record: AppointmentRecord) -> Side:
    if record.patient_id == conn.user_id:
        return Side.PATIENT
    try:
        agenda_owner(ctx, conn, record.practitioner_id)
    except ServerError:  # as if there were none: ids tell nothing
        raise not_found("no such appointment", appointment=record.id) from None
    return Side.PRACTICE


async def _appointment(
    ctx: Context, conn: Connection, appointment_id: int
) -> tuple[AppointmentRecord, Side]:
    record = await ctx.store.appointments.get(appointment_id)
    if record is None:
        raise not_found("no such appointment", appointment=appointment_id)
    return record, _side(ctx, conn, record)


async def _locked(
    tx: WriteTx, record: AppointmentRecord, wanted: str | None = None, text: str = ""
) -> tuple[AgendaSettings, AppointmentRecord]:
    """The agenda locked, and the appointment as it now is; ``wrong_status``
    unless it is ``wanted`` (if given)."""
    settings = await _locked_settings(tx, record.practitioner_id)
    current = await tx.appointments.get(record.id)
    assert current is not None  # appointments are never deleted
    if wanted is not None and current.status != wanted:
        raise _refused(BookingRefusal.WRONG_STATUS, text, status=current.status)
    return settings, current


# Hold and confirm


async def hold(ctx: Context, conn: Connection, p: HoldParams) -> AppointmentInfo:
    settings = await agenda_of(ctx, p.practitioner)
    if p.video and not visit_reason(settings, p.reason).video:
        raise invalid("this visit is not offered as a video consultation", reason=p.reason)
    by_practice = p.patient is not None
    patient = await _booking_for(ctx, conn, p)
    is_patient = await ctx.store.practices.is_patient(p.practitioner, patient)
    audience = await _audience(ctx, p.practitioner, patient)
    now = ctx.clock.ms()

    async def store(tx: WriteTx, out: list[Outgoing]) -> AppointmentRecord:
        fresh = await _locked_settings(tx, p.practitioner)
        end = await _check_slot(
            tx,
            fresh,
            p.practitioner,
            p.reason,
            p.starts_at,
            now,
            is_patient=is_patient,
            by_practice=by_practice,
        )
        if not by_practice and await tx.appointments.live_holds(patient, now) >= MAX_LIVE_HOLDS:
            raise _refused(
                BookingRefusal.TOO_MANY_HOLDS,
                "you are holding other slots: confirm or let them go first",
                limit=MAX_LIVE_HOLDS,
            )
        record = await tx.appointments.hold(
            practitioner_id=p.practitioner,
            patient_id=patient,
            reason=p.reason,
            start=p.starts_at,
            end=end,
            expires=now + HOLD_MINUTES * MINUTE_MS,
            video=p.video,
            created_by=conn.user_id,
            now=now,
        )
        _emit(out, "held", appointment_info(record), audience)
        return record

    return appointment_info(await ctx.writer.run(store))


async def _booking_for(ctx: Context, conn: Connection, p: HoldParams) -> int:
    """The patient a hold is for: the caller, or the one the practice names."""
    if p.patient is None:
        if conn.role is not Role.PATIENT:
            raise invalid("the care side books for a patient: name them (patient)")
        return conn.user_id
    agenda_owner(ctx, conn, p.practitioner)
    users = await ctx.store.accounts.users([p.patient])
    if p.patient not in users or users[p.patient].role != Role.PATIENT:
        raise not_found("no such patient", patient=p.patient)
    return p.patient


async def confirm(ctx: Context, conn: Connection, p: ConfirmParams) -> AppointmentInfo:
    record, _ = await _appointment(ctx, conn, p.appointment)
    if p.subject is not None and not await ctx.store.relatives.manages(
        record.patient_id, p.subject
    ):
        raise _refused(
            BookingRefusal.NOT_MANAGED, "this patient does not manage that relative's profile"
        )
    audience = await _audience(ctx, record.practitioner_id, record.patient_id)
    now = ctx.clock.ms()

    async def store(tx: WriteTx, out: list[Outgoing]) -> AppointmentRecord:
        settings, current = await _locked(
            tx, record, AppointmentStatus.HELD, "this appointment is not a hold"
        )
        if current.hold_expires_at is None or current.hold_expires_at <= now:
            raise _refused(BookingRefusal.HOLD_EXPIRED, "the hold expired: hold a slot again")
        confirmed = await tx.appointments.change(
            record.id,
            status="confirmed",
            hold_expires_at=None,
            subject_id=p.subject,
            note=p.note,
        )
        await tx.appointments.schedule_reminders(
            record.id, _reminders(settings, confirmed.starts_at, now)
        )
        # An appointment makes the patient (or the relative) a patient of the practitioner.
        await tx.practices.relate(
            record.practitioner_id, p.subject or record.patient_id, "appointment", now
        )
        _emit(out, "confirmed", appointment_info(confirmed), audience)
        return confirmed

    return appointment_info(await ctx.writer.run(store))


# Cancel, reschedule, no-show


async def cancel(ctx: Context, conn: Connection, p: CancelParams) -> AppointmentInfo:
    record, side = await _appointment(ctx, conn, p.appointment)
    if side is Side.PRACTICE and not p.reason:
        raise invalid("the practice says why it cancels (reason)")
    audience = await _audience(ctx, record.practitioner_id, record.patient_id)
    now = ctx.clock.ms()

    async def store(tx: WriteTx, out: list[Outgoing]) -> AppointmentRecord:
        settings, current = await _locked(tx, record)
        live_hold = (
            current.status == AppointmentStatus.HELD and (current.hold_expires_at or 0) > now
        )
        if current.status != AppointmentStatus.CONFIRMED and not live_hold:
            raise _refused(BookingRefusal.WRONG_STATUS, "nothing to cancel", status=current.status)
        if side is Side.PATIENT and current.status == AppointmentStatus.CONFIRMED:
            _require_notice(settings, current, now)
        cancelled = await tx.appointments.change(
            record.id,
            status="cancelled",
            hold_expires_at=None,
            cancelled_by=conn.user_id,
            cancel_reason=p.reason,
        )
        await tx.appointments.cancel_reminders(record.id)
        _emit(out, "cancelled", appointment_info(cancelled), audience)
        return cancelled

    return appointment_info(await ctx.writer.run(store))


def _require_notice(settings: AgendaSettings, record: AppointmentRecord, now: int) -> None:
    if record.starts_at - now < settings.cancel_notice_hours * 60 * MINUTE_MS:
        raise _refused(
            BookingRefusal.TOO_LATE_TO_CANCEL,
            "it is too late to change this appointment: call the practice",
            cancel_notice_hours=settings.cancel_notice_hours,
        )


async def reschedule(ctx: Context, conn: Connection, p: RescheduleParams) -> AppointmentInfo:
    """Move a confirmed appointment: the new slot is taken and the old one
    freed in one transaction, so neither is ever lost."""
    record, side = await _appointment(ctx, conn, p.appointment)
    audience = await _audience(ctx, record.practitioner_id, record.patient_id)
    is_patient = await ctx.store.practices.is_patient(record.practitioner_id, record.patient_id)
    now = ctx.clock.ms()

    async def store(tx: WriteTx, out: list[Outgoing]) -> AppointmentInfo:
        settings, current = await _locked(
            tx, record, AppointmentStatus.CONFIRMED, "only a confirmed appointment moves"
        )
        if side is Side.PATIENT:
            _require_notice(settings, current, now)
        end = await _check_slot(
            tx,
            settings,
            record.practitioner_id,
            current.reason,
            p.starts_at,
            now,
            is_patient=is_patient,
            by_practice=side is Side.PRACTICE,
            excluding=record.id,
        )
        moved = await tx.appointments.change(record.id, starts_at=p.starts_at, ends_at=end)
        await tx.appointments.schedule_reminders(record.id, _reminders(settings, p.starts_at, now))
        info = appointment_info(moved)
        info.previous_starts_at = current.starts_at
        _emit(out, "rescheduled", info, audience)
        return info

    return await ctx.writer.run(store)


async def no_show(ctx: Context, conn: Connection, p: AppointmentParams) -> AppointmentInfo:
    record, side = await _appointment(ctx, conn, p.appointment)
    if side is not Side.PRACTICE:
        raise _refused(BookingRefusal.NOT_YOURS, "the practice marks no-shows")
    audience = await _audience(ctx, record.practitioner_id, record.patient_id)
    now = ctx.clock.ms()

    async def store(tx: WriteTx, out: list[Outgoing]) -> AppointmentRecord:
        _, current = await _locked(tx, record)
        if current.status != AppointmentStatus.CONFIRMED or current.starts_at > now:
            raise _refused(
                BookingRefusal.WRONG_STATUS,
                "only a confirmed appointment that has begun can be a no-show",
                status=current.status,
            )
        missed = await tx.appointments.change(record.id, status="no_show")
        await tx.appointments.cancel_reminders(record.id)
        _emit(out, "no_show", appointment_info(missed), audience)
        return missed

    return appointment_info(await ctx.writer.run(store))


async def list_appointments(ctx: Context, conn: Connection, _: Empty) -> AppointmentsResult:
    """The caller's appointments (booked for themselves or a relative),
    from a month ago on."""
    now = ctx.clock.ms()
    found = await ctx.store.appointments.of_patient(conn.user_id, now - 30 * DAY_MS)
    lapsed = [a.status == AppointmentStatus.HELD and (a.hold_expires_at or 0) <= now for a in found]
    return AppointmentsResult(
        [appointment_info(a) for a, gone in zip(found, lapsed, strict=True) if not gone]
    )
