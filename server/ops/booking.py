"""Booking changes, each in two steps (``booking.*``).

1. ``plan_<change>`` authorizes: whose appointment it is, which side the
   caller is on, and who hears of the change. Its plan is frozen.
2. ``store_<change>`` runs in the writer's transaction after
   ``tx.agendas.lock``, so of many patients racing for one slot exactly one
   holds it and the others get ``conflict`` (``slot_taken``), on SQLite and
   on PostgreSQL, across nodes. It checks again what may have changed since
   (the agenda, the slot, the appointment's status) and stores the change
   and one durable ``appointment.*`` event for each of the audience.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import Enum
from functools import partial

from protocol.booking import (
    HOLD_MINUTES,
    AgendaSettings,
    AppointmentInfo,
    AppointmentStatus,
    BookingRefusal,
    CancelParams,
    ConfirmParams,
    HoldParams,
    RescheduleParams,
)
from protocol.codec import to_raw
from protocol.e2e import Delegate, Scope
from protocol.model import Role
from server.connection import Connection
from server.context import Services
from server.convert import appointment_info
from server.errors import ServerError, invalid, not_found
from server.ops.agenda import (
    agenda_of,
    agenda_owner,
    decode_settings,
    split_exceptions,
    visit_reason,
)
from server.policy.booking import booking_refusal, cancel_notice_refusal
from server.policy.slots import DAY_MS, MINUTE_MS, slot_refusal
from server.writer import Outgoing
from storage.appointments import AppointmentRecord
from storage.tx import WriteTx

__all__ = [
    "MAX_LIVE_HOLDS",
    "CancelPlan",
    "Change",
    "ConfirmPlan",
    "HoldPlan",
    "ReschedulePlan",
    "Side",
    "plan_cancel",
    "plan_confirm",
    "plan_hold",
    "plan_no_show",
    "plan_releases",
    "plan_reschedule",
    "store_cancel",
    "store_confirm",
    "store_hold",
    "store_no_show",
    "store_reschedule",
]

MAX_LIVE_HOLDS = 3  # per patient: holding every slot of a practitioner is not a plan


class Side(Enum):
    PATIENT = "patient"  # who booked it (for themselves or a relative)
    PRACTICE = "practice"  # the practitioner, or whoever keeps their agenda


@dataclass(frozen=True, slots=True)
class HoldPlan:
    """A slot to hold for a patient, by them or by the practice."""

    params: HoldParams
    patient: int
    is_patient: bool  # already a patient of the practitioner (some visits are only for them)
    by: int
    audience: tuple[int, ...]
    now: int

    @property
    def by_practice(self) -> bool:
        return self.params.patient is not None


@dataclass(frozen=True, slots=True)
class Change:
    """An existing appointment the caller may change, as it was read before
    the transaction, and who hears of the change."""

    record: AppointmentRecord
    side: Side
    by: int
    audience: tuple[int, ...]
    now: int


@dataclass(frozen=True, slots=True)
class ConfirmPlan:
    change: Change
    subject: int | None  # the relative it is for, if not the patient
    note: str | None


@dataclass(frozen=True, slots=True)
class CancelPlan:
    change: Change
    reason: str | None


@dataclass(frozen=True, slots=True)
class ReschedulePlan:
    change: Change
    starts_at: int
    is_patient: bool


# Plans


async def plan_hold(ctx: Services, conn: Connection, p: HoldParams) -> HoldPlan:
    settings = await agenda_of(ctx, p.practitioner)
    if p.video and not visit_reason(settings, p.reason).video:
        raise invalid("this visit is not offered as a video consultation", reason=p.reason)
    patient = await _booking_for(ctx, conn, p)
    is_patient = await ctx.store.practices.is_patient(p.practitioner, patient)
    audience = await _audience(ctx, p.practitioner, patient)
    return HoldPlan(p, patient, is_patient, conn.user_id, audience, ctx.clock.ms())


async def plan_confirm(ctx: Services, conn: Connection, p: ConfirmParams) -> ConfirmPlan:
    record, side = await _appointment(ctx, conn, p.appointment)
    if p.subject is not None and not await ctx.store.relatives.manages(
        record.patient_id, p.subject
    ):
        raise _not_managed()
    return ConfirmPlan(await _change(ctx, conn, record, side), p.subject, p.note)


def _not_managed() -> ServerError:
    return booking_refusal(
        BookingRefusal.NOT_MANAGED, "this patient does not manage that relative's profile"
    ).error()


async def plan_cancel(ctx: Services, conn: Connection, p: CancelParams) -> CancelPlan:
    record, side = await _appointment(ctx, conn, p.appointment)
    if side is Side.PRACTICE and not p.reason:
        raise invalid("the practice says why it cancels (reason)")
    return CancelPlan(await _change(ctx, conn, record, side), p.reason)


async def plan_releases(
    ctx: Services, user: int, reason: str, subject: int | None = None
) -> list[CancelPlan]:
    """The cancellations of what is still to come and ``user`` will not
    keep: what they booked (for ``subject`` only, if given: a relative's
    profile given up), and their agenda's (an account deleted). No notice
    applies, since nobody is left to keep the appointment; the practice
    hears of each as of any cancellation."""
    now = ctx.clock.ms()
    live = (AppointmentStatus.HELD, AppointmentStatus.CONFIRMED)
    found = await ctx.store.appointments.of_patient(
        user, since=now, or_practitioner=subject is None
    )
    plans = []
    for record in found:
        if record.status not in live or record.starts_at <= now:
            continue
        if subject is not None and record.subject_id != subject:
            continue
        audience = await _audience(ctx, record.practitioner_id, record.patient_id)
        plans.append(CancelPlan(Change(record, Side.PRACTICE, user, audience, now), reason))
    return plans


async def release_rest(ctx: Services, user: int, reason: str, subject: int | None = None) -> None:
    """Once a withdrawal or a deletion committed: cancel what ``plan_releases``
    finds now, booked between its plan and its transaction."""
    for release in await plan_releases(ctx, user, reason, subject):
        with contextlib.suppress(ServerError):  # cancelled or changed meanwhile
            await ctx.writer.run(partial(store_cancel, release))


async def plan_reschedule(ctx: Services, conn: Connection, p: RescheduleParams) -> ReschedulePlan:
    record, side = await _appointment(ctx, conn, p.appointment)
    change = await _change(ctx, conn, record, side)
    is_patient = await ctx.store.practices.is_patient(record.practitioner_id, record.patient_id)
    return ReschedulePlan(change, p.starts_at, is_patient)


async def plan_no_show(ctx: Services, conn: Connection, appointment_id: int) -> Change:
    record, side = await _appointment(ctx, conn, appointment_id)
    if side is not Side.PRACTICE:
        raise booking_refusal(BookingRefusal.NOT_YOURS, "the practice marks no-shows").error()
    return await _change(ctx, conn, record, side)


async def _booking_for(ctx: Services, conn: Connection, p: HoldParams) -> int:
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


async def _appointment(
    ctx: Services, conn: Connection, appointment_id: int
) -> tuple[AppointmentRecord, Side]:
    record = await ctx.store.appointments.get(appointment_id)
    if record is None:
        raise not_found("no such appointment", appointment=appointment_id)
    return record, _side(ctx, conn, record)


def _side(ctx: Services, conn: Connection, record: AppointmentRecord) -> Side:
    if record.patient_id == conn.user_id:
        return Side.PATIENT
    try:
        agenda_owner(ctx, conn, record.practitioner_id)
    except ServerError:  # as if there were none: ids tell nothing
        raise not_found("no such appointment", appointment=record.id) from None
    return Side.PRACTICE


async def _change(ctx: Services, conn: Connection, record: AppointmentRecord, side: Side) -> Change:
    audience = await _audience(ctx, record.practitioner_id, record.patient_id)
    return Change(record, side, conn.user_id, audience, ctx.clock.ms())


async def _audience(ctx: Services, practitioner: int, patient: int) -> tuple[int, ...]:
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
    return tuple(sorted({patient, practitioner, *keepers}))


# Stores


async def store_hold(plan: HoldPlan, tx: WriteTx, out: list[Outgoing]) -> AppointmentRecord:
    p, now = plan.params, plan.now
    settings = await _locked_settings(tx, p.practitioner)
    end = await _check_slot(
        tx,
        settings,
        p.practitioner,
        p.reason,
        p.starts_at,
        now,
        is_patient=plan.is_patient,
        by_practice=plan.by_practice,
    )
    holding = 0 if plan.by_practice else await tx.appointments.live_holds(plan.patient, now)
    if holding >= MAX_LIVE_HOLDS:
        raise booking_refusal(
            BookingRefusal.TOO_MANY_HOLDS,
            "you are holding other slots: confirm or let them go first",
            limit=MAX_LIVE_HOLDS,
        ).error()
    record = await tx.appointments.hold(
        practitioner_id=p.practitioner,
        patient_id=plan.patient,
        reason=p.reason,
        start=p.starts_at,
        end=end,
        expires=now + HOLD_MINUTES * MINUTE_MS,
        video=p.video,
        created_by=plan.by,
        now=now,
    )
    _emit(out, "held", appointment_info(record), plan.audience)
    return record


async def store_confirm(plan: ConfirmPlan, tx: WriteTx, out: list[Outgoing]) -> AppointmentRecord:
    record, now = plan.change.record, plan.change.now
    if plan.subject is not None and not await tx.relatives.manages(
        record.patient_id, plan.subject
    ):  # again: a withdrawal may have come since the plan
        raise _not_managed()
    settings, current = await _locked(
        tx, record, AppointmentStatus.HELD, "this appointment is not a hold"
    )
    if current.hold_expires_at is None or current.hold_expires_at <= now:
        raise booking_refusal(
            BookingRefusal.HOLD_EXPIRED, "the hold expired: hold a slot again"
        ).error()
    confirmed = await tx.appointments.change(
        record.id,
        status="confirmed",
        hold_expires_at=None,
        subject_id=plan.subject,
        note=plan.note,
    )
    await tx.appointments.schedule_reminders(
        record.id, _reminders(settings, confirmed.starts_at, now)
    )
    # An appointment makes the patient (or the relative) a patient of the practitioner.
    await tx.practices.relate(
        record.practitioner_id, plan.subject or record.patient_id, "appointment", now
    )
    _emit(out, "confirmed", appointment_info(confirmed), plan.change.audience)
    return confirmed


async def store_cancel(plan: CancelPlan, tx: WriteTx, out: list[Outgoing]) -> AppointmentRecord:
    change, now = plan.change, plan.change.now
    settings, current = await _locked(tx, change.record)
    live_hold = current.status == AppointmentStatus.HELD and (current.hold_expires_at or 0) > now
    if current.status != AppointmentStatus.CONFIRMED and not live_hold:
        raise booking_refusal(
            BookingRefusal.WRONG_STATUS, "nothing to cancel", status=current.status
        ).error()
    if change.side is Side.PATIENT and current.status == AppointmentStatus.CONFIRMED:
        _require_notice(settings, current, now)
    cancelled = await tx.appointments.change(
        change.record.id,
        status="cancelled",
        hold_expires_at=None,
        cancelled_by=change.by,
        cancel_reason=plan.reason,
    )
    await tx.appointments.cancel_reminders(change.record.id)
    _emit(out, "cancelled", appointment_info(cancelled), change.audience)
    return cancelled


async def store_reschedule(
    plan: ReschedulePlan, tx: WriteTx, out: list[Outgoing]
) -> AppointmentInfo:
    """Move a confirmed appointment: the new slot is taken and the old one
    freed in one transaction, so neither is ever lost."""
    change, now = plan.change, plan.change.now
    record = change.record
    settings, current = await _locked(
        tx, record, AppointmentStatus.CONFIRMED, "only a confirmed appointment moves"
    )
    if change.side is Side.PATIENT:
        _require_notice(settings, current, now)
    end = await _check_slot(
        tx,
        settings,
        record.practitioner_id,
        current.reason,
        plan.starts_at,
        now,
        is_patient=plan.is_patient,
        by_practice=change.side is Side.PRACTICE,
        excluding=record.id,
    )
    moved = await tx.appointments.change(record.id, starts_at=plan.starts_at, ends_at=end)
    await tx.appointments.schedule_reminders(record.id, _reminders(settings, plan.starts_at, now))
    info = appointment_info(moved)
    info.previous_starts_at = current.starts_at
    _emit(out, "rescheduled", info, change.audience)
    return info


async def store_no_show(change: Change, tx: WriteTx, out: list[Outgoing]) -> AppointmentRecord:
    _, current = await _locked(tx, change.record)
    if current.status != AppointmentStatus.CONFIRMED or current.starts_at > change.now:
        raise booking_refusal(
            BookingRefusal.WRONG_STATUS,
            "only a confirmed appointment that has begun can be a no-show",
            status=current.status,
        ).error()
    missed = await tx.appointments.change(change.record.id, status="no_show")
    await tx.appointments.cancel_reminders(change.record.id)
    _emit(out, "no_show", appointment_info(missed), change.audience)
    return missed


async def _locked_settings(tx: WriteTx, practitioner: int) -> AgendaSettings:
    blob = await tx.agendas.lock(practitioner)
    if blob is None:
        raise not_found("this practitioner takes no bookings", practitioner=practitioner)
    return decode_settings(blob)


async def _locked(
    tx: WriteTx, record: AppointmentRecord, wanted: str | None = None, text: str = ""
) -> tuple[AgendaSettings, AppointmentRecord]:
    """The agenda locked, and the appointment as it now is; ``wrong_status``
    unless it is ``wanted`` (if given)."""
    settings = await _locked_settings(tx, record.practitioner_id)
    current = await tx.appointments.get(record.id)
    assert current is not None  # appointments are never deleted
    if wanted is not None and current.status != wanted:
        raise booking_refusal(BookingRefusal.WRONG_STATUS, text, status=current.status).error()
    return settings, current


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
        raise booking_refusal(
            BookingRefusal.SLOT_TAKEN, "someone else has this slot: choose another"
        ).error()
    return end


def _require_notice(settings: AgendaSettings, record: AppointmentRecord, now: int) -> None:
    refusal = cancel_notice_refusal(settings, record.starts_at, now)
    if refusal:
        raise refusal.error()


def _emit(out: list[Outgoing], kind: str, info: AppointmentInfo, audience: tuple[int, ...]) -> None:
    data = to_raw(info)
    for user in audience:  # one stored event each, so each replays it once
        out.append(Outgoing(f"appointment.{kind}", data, [user], user_id=user))


def _reminders(settings: AgendaSettings, start: int, now: int) -> list[tuple[int, int]]:
    due = [(m, start - m * MINUTE_MS) for m in settings.reminder_minutes]
    return [(m, at) for m, at in due if at > now]
