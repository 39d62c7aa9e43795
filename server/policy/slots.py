"""Slots, computed on demand: a practitioner's opening hours for a visit
reason (wall-clock times in their own time zone, plus one-off openings),
cut into the reason's duration, minus the time that is closed (absences,
blocks) or taken (appointments, live holds), within the booking window.

Pure functions over plain data. Times are UTC milliseconds; a day's hours
become UTC instants through ``zoneinfo``, so 09:00 stays 09:00 local on
both sides of a daylight-saving change. A wall-clock time that does not
exist (the spring-forward gap) is read with the offset before the change.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from protocol.booking import AgendaSettings, BookingRefusal, VisitReason
from server.policy.refusal import Refusal
from server.policy.zones import find_zone

__all__ = [
    "DAY_MS",
    "MINUTE_MS",
    "Busy",
    "Opening",
    "free_slots",
    "grid_slots",
    "settings_problems",
    "slot_refusal",
]

DAY_MS = 24 * 60 * 60 * 1000
MINUTE_MS = 60 * 1000


@dataclass(frozen=True, slots=True)
class Opening:
    """A one-off opening for ``reasons`` (every reason if empty)."""

    start: int
    end: int
    reasons: tuple[str, ...] = ()


class Busy:
    """Intervals no slot may overlap, merged and sorted for fast lookup."""

    def __init__(self, intervals: Iterable[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [start for start, _ in merged]
        self._ends = [end for _, end in merged]

    def overlaps(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` meets any interval."""
        i = bisect_left(self._starts, end) - 1  # the last interval starting before ``end``
        return i >= 0 and self._ends[i] > start


def _instant(day: date, clock: str, zone: ZoneInfo) -> int:
    hours, minutes = (int(part) for part in clock.split(":"))
    if hours == 24:  # the next day's midnight
        day, hours = day + timedelta(days=1), 0
    return int(datetime.combine(day, time(hours, minutes), zone).timestamp() * 1000)


def _local_day(ms: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(ms / 1000, zone).date()


def _opening_intervals(
    settings: AgendaSettings, reason: str, start: int, end: int, openings: Sequence[Opening]
) -> list[tuple[int, int]]:
    """The reason's open intervals meeting ``[start, end)``, merged. They are
    merged over whole local days (and every opening given) before the range
    is cut, so where a grid starts never depends on the range asked for."""
    zone = ZoneInfo(settings.time_zone)
    intervals = [(o.start, o.end) for o in openings if not o.reasons or reason in o.reasons]
    day = _local_day(start, zone) - timedelta(days=1)
    last = _local_day(end, zone) + timedelta(days=1)
    weekly = [h for h in settings.hours if reason in h.reasons]
    while day <= last:
        for hours in weekly:
            if hours.weekday == day.weekday():
                intervals.append((_instant(day, hours.start, zone), _instant(day, hours.end, zone)))
        day += timedelta(days=1)
    merged: list[tuple[int, int]] = []
    for interval in sorted(i for i in intervals if i[0] < i[1]):
        if merged and interval[0] < merged[-1][1]:  # overlapping; touching days stay apart
            merged[-1] = (merged[-1][0], max(merged[-1][1], interval[1]))
        else:
            merged.append(interval)
    return [(s, e) for s, e in merged if s < end and e > start]


def grid_slots(
    settings: AgendaSettings,
    reason: VisitReason,
    start: int,
    end: int,
    openings: Sequence[Opening] = (),
) -> list[int]:
    """Every slot of ``reason`` whose start lies in ``[start, end)``: each open
    interval cut into the reason's duration from its beginning."""
    step = reason.minutes * MINUTE_MS
    slots = []
    for open_start, open_end in _opening_intervals(settings, reason.code, start, end, openings):
        slot = open_start
        while slot + step <= open_end:
            if start <= slot < end:
                slots.append(slot)
            slot += step
    return slots


def free_slots(
    settings: AgendaSettings,
    reason: VisitReason,
    start: int,
    end: int,
    now: int,
    *,
    openings: Sequence[Opening] = (),
    closed: Busy | None = None,
    taken: Busy | None = None,
) -> list[int]:
    """The slots a patient may book now: on the grid, within the booking
    window (minimum notice, horizon), neither closed nor taken."""
    earliest = max(start, now + settings.min_notice_minutes * MINUTE_MS)
    latest = min(end, now + settings.horizon_days * DAY_MS + 1)
    if earliest >= latest:
        return []
    step = reason.minutes * MINUTE_MS
    return [
        slot
        for slot in grid_slots(settings, reason, earliest, latest, openings)
        if not (closed and closed.overlaps(slot, slot + step))
        and not (taken and taken.overlaps(slot, slot + step))
    ]


def slot_refusal(
    settings: AgendaSettings,
    reason_code: str,
    start: int,
    now: int,
    *,
    is_patient: bool,
    openings: Sequence[Opening] = (),
    closed: Busy | None = None,
    by_practice: bool = False,
) -> Refusal | None:
    """None if a slot of ``reason_code`` at ``start`` may be booked now
    (whether it is taken is the transaction's to check), else why not. The
    practice booking for a patient is held to the hours, not to the notice,
    the horizon or the reason's new-patient rule."""
    reason = next((r for r in settings.reasons if r.code == reason_code), None)
    if reason is None:
        offered = [r.code for r in settings.reasons]
        return Refusal(
            BookingRefusal.UNKNOWN_REASON,
            "this practitioner offers no such visit",
            {"offered": offered},
        )
    if start < now:
        return Refusal(BookingRefusal.PAST_SLOT, "this time has passed")
    refusal = None if by_practice else _window_refusal(settings, reason, start, now, is_patient)
    if refusal:
        return refusal
    step = reason.minutes * MINUTE_MS
    on_grid = start in grid_slots(settings, reason, start, start + 1, openings)
    if not on_grid or (closed is not None and closed.overlaps(start, start + step)):
        return Refusal(BookingRefusal.OUTSIDE_HOURS, "the practitioner does not see patients then")
    return None


def _window_refusal(
    settings: AgendaSettings, reason: VisitReason, start: int, now: int, is_patient: bool
) -> Refusal | None:
    """What a patient booking for themselves is held to: notice, horizon,
    and whether the visit takes new patients."""
    if start < now + settings.min_notice_minutes * MINUTE_MS:
        return Refusal(
            BookingRefusal.TOO_SHORT_NOTICE,
            "this slot is too soon to book",
            {"min_notice_minutes": settings.min_notice_minutes},
        )
    if start > now + settings.horizon_days * DAY_MS:
        return Refusal(
            BookingRefusal.BEYOND_HORIZON,
            "this slot is too far ahead to book",
            {"horizon_days": settings.horizon_days},
        )
    if not reason.new_patients and not is_patient:
        return Refusal(
            BookingRefusal.NEW_PATIENTS, "this visit is for the practitioner's patients only"
        )
    return None


def settings_problems(settings: AgendaSettings) -> list[str]:
    """What is wrong with an agenda's settings (empty: nothing)."""
    problems = []
    if find_zone(settings.time_zone) is None:
        problems.append(f"unknown time zone {settings.time_zone!r}")
    codes = [r.code for r in settings.reasons]
    if len(set(codes)) != len(codes):
        problems.append("a visit reason code appears twice")
    for hours in settings.hours:
        unknown = sorted(set(hours.reasons) - set(codes))
        if unknown:
            problems.append(f"opening hours name unknown reasons: {', '.join(unknown)}")
        if hours.start >= hours.end:
            problems.append(f"opening hours end before they start: {hours.start}-{hours.end}")
    if len(set(settings.reminder_minutes)) != len(settings.reminder_minutes):
        problems.append("a reminder offset appears twice")
    return problems
