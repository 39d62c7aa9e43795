"""Booking refusals: which code each reason takes, and the cancellation
notice. Pure functions over plain data."""

from __future__ import annotations

from typing import Any

from protocol.booking import AgendaSettings, BookingRefusal
from protocol.errors import ErrorCode
from server.policy.refusal import Refusal
from server.policy.slots import MINUTE_MS

__all__ = ["booking_refusal", "cancel_notice_refusal"]

# Someone else got there first, or the appointment moved on meanwhile.
_CONFLICTS = frozenset(
    {BookingRefusal.SLOT_TAKEN, BookingRefusal.HOLD_EXPIRED, BookingRefusal.WRONG_STATUS}
)


def booking_refusal(reason: BookingRefusal, text: str, **details: Any) -> Refusal:
    """A refusal of a booking call: ``conflict`` for a race lost or a state
    that changed (slot taken, hold expired, wrong status), ``forbidden``
    for the rest."""
    code = ErrorCode.CONFLICT if reason in _CONFLICTS else ErrorCode.FORBIDDEN
    return Refusal(reason, text, details, code)


def cancel_notice_refusal(settings: AgendaSettings, starts_at: int, now: int) -> Refusal | None:
    """A patient changes an appointment only with the agenda's notice."""
    if starts_at - now < settings.cancel_notice_hours * 60 * MINUTE_MS:
        return booking_refusal(
            BookingRefusal.TOO_LATE_TO_CANCEL,
            "it is too late to change this appointment: call the practice",
            cancel_notice_hours=settings.cancel_notice_hours,
        )
    return None
