"""Booking and the agenda: a practitioner's visit reasons and opening hours,
exceptions to them, appointments, and why a booking was refused.

Times on the wire are UTC milliseconds; opening hours are wall-clock times
in the practitioner's own time zone, so slots stay at 09:00 local across
daylight-saving changes. Slots are computed by ``server.policy.slots``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from protocol.model import NO_NUL, Empty, Id, Ms

__all__ = [
    "BOOKING_EVENTS",
    "BOOKING_METHODS",
    "HOLD_MINUTES",
    "AgendaDayParams",
    "AgendaParams",
    "AgendaSettings",
    "AgendaView",
    "AppointmentInfo",
    "AppointmentParams",
    "AppointmentStatus",
    "AppointmentsResult",
    "BookingRefusal",
    "CancelParams",
    "ConfirmParams",
    "ExceptionIdParams",
    "ExceptionInfo",
    "ExceptionKind",
    "ExceptionParams",
    "HoldParams",
    "OpeningHours",
    "RescheduleParams",
    "SlotsParams",
    "SlotsResult",
    "VisitReason",
]

HOLD_MINUTES = 15  # a hold keeps its slot this long, then frees it by itself

Code = Annotated[str, Meta(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]
Label = Annotated[str, Meta(min_length=1, max_length=120), NO_NUL]
Clock = Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]
# A calendar day from 1970 to 2199, the span of ``Ms``.
Date = Annotated[str, Meta(pattern=r"^(19[7-9][0-9]|2[01][0-9][0-9])-[0-9]{2}-[0-9]{2}$")]
Note = Annotated[str, Meta(max_length=500), NO_NUL]
ReminderOffset = Annotated[int, Meta(ge=1, le=14 * 24 * 60)]  # minutes before


class BookingRefusal(StrEnum):
    """Why a booking call was refused: ``details.reason`` of a ``forbidden``
    (rules) or ``conflict`` (``slot_taken``, ``hold_expired``) error."""

    PAST_SLOT = "past_slot"
    OUTSIDE_HOURS = "outside_hours"  # not a slot of this reason (hours, grid, absence)
    TOO_SHORT_NOTICE = "too_short_notice"  # details.min_notice_minutes
    BEYOND_HORIZON = "beyond_horizon"  # details.horizon_days
    UNKNOWN_REASON = "unknown_reason"  # details.offered
    NEW_PATIENTS = "new_patients"  # this reason is for the practitioner's patients only
    SLOT_TAKEN = "slot_taken"  # another appointment or hold has it
    HOLD_EXPIRED = "hold_expired"  # the hold's 15 minutes passed: hold again
    NOT_YOURS = "not_yours"  # an appointment of someone else's
    TOO_LATE_TO_CANCEL = "too_late_to_cancel"  # details.cancel_notice_hours
    NOT_MANAGED = "not_managed"  # for a relative whose profile the caller does not manage
    NOT_AGENDA = "not_agenda"  # no agenda (of one's own, or delegated) to shape
    WRONG_STATUS = "wrong_status"  # e.g. cancelling a cancelled appointment
    TOO_MANY_HOLDS = "too_many_holds"  # details.limit live holds at once


class VisitReason(Struct, omit_defaults=True):
    code: Code
    label: Label
    minutes: Annotated[int, Meta(ge=5, le=480)]
    new_patients: bool = True  # whether someone not yet their patient may book it
    video: bool = False  # whether it can be a video consultation


class OpeningHours(Struct, array_like=True):
    """Every ``weekday`` (0 Monday .. 6 Sunday) from ``start`` to ``end``
    local time, for the visit ``reasons`` listed."""

    weekday: Annotated[int, Meta(ge=0, le=6)]
    start: Clock
    end: Clock
    reasons: Annotated[list[Code], Meta(min_length=1, max_length=32)]


class AgendaSettings(Struct, omit_defaults=True, kw_only=True):
    time_zone: Annotated[str, Meta(min_length=1, max_length=64), NO_NUL] = "Europe/Paris"
    reasons: Annotated[list[VisitReason], Meta(max_length=32)] = []
    hours: Annotated[list[OpeningHours], Meta(max_length=200)] = []
    horizon_days: Annotated[int, Meta(ge=1, le=365)] = 90
    min_notice_minutes: Annotated[int, Meta(ge=0, le=30 * 24 * 60)] = 120
    cancel_notice_hours: Annotated[int, Meta(ge=0, le=14 * 24)] = 24
    reminder_minutes: Annotated[list[ReminderOffset], Meta(max_length=4)] = msgspec.field(
        default_factory=lambda: [24 * 60, 120]
    )


class ExceptionKind(StrEnum):
    ABSENCE = "absence"  # away: no slots
    BLOCK = "block"  # time blocked in the agenda (paperwork, a meeting): no slots
    OPENING = "opening"  # a one-off opening for ``reasons``


class ExceptionParams(Struct, omit_defaults=True, kw_only=True):
    practitioner: Id | None = None  # a delegate (``agenda`` scope) names whose agenda
    kind: ExceptionKind
    starts_at: Ms
    ends_at: Ms
    reasons: Annotated[list[Code], Meta(max_length=32)] = []  # for an opening
    note: Note = ""


class ExceptionInfo(Struct, omit_defaults=True):
    id: int
    practitioner: int
    kind: ExceptionKind
    starts_at: int
    ends_at: int
    reasons: list[str] = []
    note: str = ""


class AppointmentStatus(StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class AppointmentInfo(Struct, omit_defaults=True):
    id: int
    practitioner: int
    patient: int  # who booked it (or for whom the practice booked it)
    reason: str
    starts_at: int
    ends_at: int
    status: AppointmentStatus
    subject: int | None = None  # the relative it is for
    hold_expires_at: int | None = None
    video: bool = False
    note: str = ""  # the patient's note for the practice
    cancel_reason: str = ""
    cancelled_by: int | None = None
    previous_starts_at: int | None = None  # in ``appointment.rescheduled``


class AgendaParams(Struct, omit_defaults=True):
    practitioner: Id | None = None  # a delegate (``agenda`` scope) names whose agenda


class SlotsParams(Struct):
    practitioner: Id
    reason: Code
    starts_at: Ms  # the range, UTC ms; at most 62 days
    ends_at: Ms


class SlotsResult(Struct):
    slots: list[int]  # slot starts, UTC ms, ascending
    minutes: int
    time_zone: str


class HoldParams(Struct, omit_defaults=True):
    practitioner: Id
    reason: Code
    starts_at: Ms
    patient: Id | None = None  # the care side booking for a patient
    video: bool = False


class ConfirmParams(Struct, omit_defaults=True):
    appointment: Id
    subject: Id | None = None  # a relative the patient manages
    note: Note = ""


class AppointmentParams(Struct):
    appointment: Id


class ExceptionIdParams(Struct):
    exception: Id


class CancelParams(Struct, omit_defaults=True):
    appointment: Id
    reason: Note = ""


class RescheduleParams(Struct):
    appointment: Id
    starts_at: Ms


class AgendaDayParams(Struct, omit_defaults=True):
    date: Date  # the day (agenda.day) or any day of the week (agenda.week), local
    practitioner: Id | None = None


class AgendaView(Struct):
    practitioner: int
    time_zone: str
    starts_at: int
    ends_at: int
    appointments: list[AppointmentInfo]
    exceptions: list[ExceptionInfo]
    # Whoever keeps the agenda reads who is coming: the display names of the
    # patients (and relatives) of these appointments, by user id.
    names: dict[int, str] = {}


class AppointmentsResult(Struct):
    appointments: list[AppointmentInfo]


BOOKING_METHODS: dict[str, tuple[type[Struct], type[Struct]]] = {
    "agenda.get": (AgendaParams, AgendaSettings),
    "agenda.set": (AgendaSettings, AgendaSettings),
    "agenda.add_exception": (ExceptionParams, ExceptionInfo),
    "agenda.remove_exception": (ExceptionIdParams, Empty),
    "agenda.slots": (SlotsParams, SlotsResult),
    "agenda.day": (AgendaDayParams, AgendaView),
    "agenda.week": (AgendaDayParams, AgendaView),
    "booking.hold": (HoldParams, AppointmentInfo),
    "booking.confirm": (ConfirmParams, AppointmentInfo),
    "booking.cancel": (CancelParams, AppointmentInfo),
    "booking.reschedule": (RescheduleParams, AppointmentInfo),
    "booking.no_show": (AppointmentParams, AppointmentInfo),
    "booking.list": (Empty, AppointmentsResult),
}

BOOKING_EVENTS: dict[str, type[Struct]] = {
    "appointment.held": AppointmentInfo,
    "appointment.confirmed": AppointmentInfo,
    "appointment.cancelled": AppointmentInfo,
    "appointment.rescheduled": AppointmentInfo,
    "appointment.no_show": AppointmentInfo,
    "appointment.reminder": AppointmentInfo,
}
