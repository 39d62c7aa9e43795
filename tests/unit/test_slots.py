"""Slot computation by tables: opening hours in the practitioner's time zone
(both daylight-saving changes in Europe/Paris), one-off openings, what is
closed or taken, the booking window, and each refusal of a slot."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from protocol.booking import AgendaSettings, BookingRefusal, OpeningHours, VisitReason
from server.policy.slots import (
    Busy,
    Opening,
    free_slots,
    grid_slots,
    settings_problems,
    slot_refusal,
)

CONSULT = VisitReason("consult", "Consultation", 30)
FOLLOW_UP = VisitReason("follow_up", "Follow-up", 20, new_patients=False)
NIGHT = VisitReason("night", "Night watch", 60)
WEEKDAYS = [OpeningHours(day, "09:00", "12:00", ["consult", "follow_up"]) for day in range(5)]
SETTINGS = AgendaSettings(
    time_zone="Europe/Paris",
    reasons=[CONSULT, FOLLOW_UP, NIGHT],
    hours=[*WEEKDAYS, OpeningHours(6, "01:00", "04:00", ["night"])],
    horizon_days=30,
    min_notice_minutes=60,
)


def utc(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def hours_of(slots: list[int]) -> list[str]:
    return [datetime.fromtimestamp(s / 1000, UTC).strftime("%H:%M") for s in slots]


@pytest.mark.parametrize(
    ("case", "day", "first_utc"),
    [
        ("Friday before the March change (UTC+1)", (3, 27), "08:00"),
        ("Monday after the March change (UTC+2)", (3, 30), "07:00"),
        ("Friday before the October change (UTC+2)", (10, 23), "07:00"),
        ("Monday after the October change (UTC+1)", (10, 26), "08:00"),
    ],
)
def test_nine_o_clock_stays_nine_o_clock_local(
    case: str, day: tuple[int, int], first_utc: str
) -> None:
    start = utc(*day, 0)
    slots = grid_slots(SETTINGS, CONSULT, start, start + 24 * 3600_000)
    assert len(slots) == 6, case  # 09:00-12:00 in 30 minutes
    assert hours_of(slots)[0] == first_utc, case


@pytest.mark.parametrize(
    ("case", "sunday", "expected"),
    [
        # 01:00 CET is 00:00 UTC; 04:00 CEST is 02:00 UTC: the night is one hour short.
        ("spring forward", (3, 29), ["00:00", "01:00"]),
        # 01:00 CEST is 23:00 UTC the day before; 04:00 CET is 03:00 UTC: one hour long.
        ("fall back", (10, 25), ["23:00", "00:00", "01:00", "02:00"]),
    ],
)
def test_hours_across_the_change_itself(
    case: str, sunday: tuple[int, int], expected: list[str]
) -> None:
    start = utc(*sunday, 0) - 2 * 3600_000
    slots = grid_slots(SETTINGS, NIGHT, start, start + 12 * 3600_000)
    assert hours_of(slots) == expected, case


def test_closed_and_taken_time_and_the_booking_window() -> None:
    monday = utc(3, 30, 0)
    now = utc(3, 30, 7, 10)  # 09:10 local: with an hour's notice, 10:10 is the earliest
    taken = Busy([(utc(3, 30, 8, 30), utc(3, 30, 9, 0))])  # 10:30-11:00 local
    closed = Busy([(utc(3, 30, 9, 15), utc(3, 30, 9, 20))])  # 11:15-11:20 local
    slots = free_slots(
        SETTINGS, CONSULT, monday, monday + 86_400_000, now, taken=taken, closed=closed
    )
    # 08:30 UTC is taken, 09:00 meets the closed minutes, 07:00-08:00 are too soon.
    assert hours_of(slots) == ["09:30"]


def test_one_off_openings_add_slots_for_their_reasons() -> None:
    saturday = utc(4, 4, 0)
    opening = Opening(utc(4, 4, 8), utc(4, 4, 9), ("follow_up",))
    assert hours_of(
        grid_slots(SETTINGS, FOLLOW_UP, saturday, saturday + 86_400_000, [opening])
    ) == [
        "08:00",
        "08:20",
        "08:40",
    ]
    assert grid_slots(SETTINGS, CONSULT, saturday, saturday + 86_400_000, [opening]) == []
    every_reason = Opening(utc(4, 4, 8), utc(4, 4, 9))
    assert len(grid_slots(SETTINGS, CONSULT, saturday, saturday + 86_400_000, [every_reason])) == 2


def test_the_horizon_ends_the_slots() -> None:
    now = utc(3, 2, 0)
    slots = free_slots(SETTINGS, CONSULT, now, now + 60 * 86_400_000, now)
    assert slots and max(slots) <= now + 30 * 86_400_000
    assert min(slots) >= now + 3600_000


NOW = utc(3, 30, 6)  # Monday 08:00 local
TEN = utc(3, 30, 8)  # Monday 10:00 local


@pytest.mark.parametrize(
    ("case", "reason", "start", "is_patient", "closed", "expected"),
    [
        ("a free slot", "consult", TEN, False, None, None),
        ("a patient's follow-up", "follow_up", TEN, True, None, None),
        ("no such visit", "surgery", TEN, True, None, BookingRefusal.UNKNOWN_REASON),
        ("in the past", "consult", NOW - 3600_000, True, None, BookingRefusal.PAST_SLOT),
        ("too soon", "consult", utc(3, 30, 6, 30), True, None, BookingRefusal.TOO_SHORT_NOTICE),
        ("too far", "consult", utc(5, 4, 8), True, None, BookingRefusal.BEYOND_HORIZON),
        ("follow-up for a new patient", "follow_up", TEN, False, None, BookingRefusal.NEW_PATIENTS),
        ("off the grid", "consult", TEN + 10 * 60_000, True, None, BookingRefusal.OUTSIDE_HOURS),
        ("after hours", "consult", utc(3, 30, 15), True, None, BookingRefusal.OUTSIDE_HOURS),
        ("on a weekend", "consult", utc(4, 4, 8), True, None, BookingRefusal.OUTSIDE_HOURS),
        (
            "during an absence",
            "consult",
            TEN,
            True,
            Busy([(TEN - 60_000, TEN + 60_000)]),
            BookingRefusal.OUTSIDE_HOURS,
        ),
    ],
)
def test_slot_refusal(
    case: str,
    reason: str,
    start: int,
    is_patient: bool,
    closed: Busy | None,
    expected: BookingRefusal | None,
) -> None:
    refusal = slot_refusal(SETTINGS, reason, start, NOW, is_patient=is_patient, closed=closed)
    assert (refusal.reason if refusal else None) == expected, case
    if refusal:
        assert refusal.text


@pytest.mark.parametrize(
    ("intervals", "probe", "overlaps"),
    [
        ([], (0, 10), False),
        ([(10, 20)], (0, 10), False),  # touching is not overlapping
        ([(10, 20)], (20, 30), False),
        ([(10, 20)], (19, 21), True),
        ([(10, 20), (15, 40)], (35, 50), True),  # merged
        ([(10, 20), (30, 40)], (21, 29), False),
        ([(30, 40), (10, 20)], (5, 11), True),  # unsorted input
    ],
)
def test_busy_overlaps(
    intervals: list[tuple[int, int]], probe: tuple[int, int], overlaps: bool
) -> None:
    assert Busy(intervals).overlaps(*probe) is overlaps


def test_a_duration_that_does_not_divide_the_day_restarts_each_day() -> None:
    odd = VisitReason("odd", "Odd", 25)
    settings = AgendaSettings(
        time_zone="Europe/Paris",
        reasons=[odd],
        hours=[OpeningHours(day, "00:00", "24:00", ["odd"]) for day in range(7)],
        min_notice_minutes=0,
    )
    start = utc(4, 1, 0)
    over_two_days = grid_slots(settings, odd, start, start + 2 * 86_400_000)
    second_day = utc(4, 1, 22)  # local midnight of 2 April
    alone = grid_slots(settings, odd, second_day, second_day + 86_400_000)
    assert len(alone) == 57 and alone[0] == second_day  # each day's grid starts at midnight
    assert [s for s in over_two_days if second_day <= s < second_day + 86_400_000] == alone
    assert slot_refusal(settings, "odd", alone[3], start, is_patient=True) is None


@pytest.mark.parametrize(
    ("case", "reason", "start", "expected"),
    [
        ("within the patient's notice", "consult", utc(3, 30, 7), None),
        ("beyond the patient's horizon", "consult", utc(5, 4, 8), None),
        ("a follow-up for a new patient", "follow_up", TEN, None),
        ("still not in the past", "consult", NOW - 3600_000, BookingRefusal.PAST_SLOT),
        ("still within the hours", "consult", utc(3, 30, 15), BookingRefusal.OUTSIDE_HOURS),
    ],
)
def test_the_practice_booking_for_a_patient_is_held_to_the_hours_only(
    case: str, reason: str, start: int, expected: BookingRefusal | None
) -> None:
    now = NOW + 30 * 60_000  # 09:00 local is half an hour away: too soon for a patient
    assert slot_refusal(SETTINGS, "consult", utc(3, 30, 7), now, is_patient=True)
    refusal = slot_refusal(SETTINGS, reason, start, now, is_patient=False, by_practice=True)
    assert (refusal.reason if refusal else None) == expected, case


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, None),
        ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"reasons": [CONSULT, CONSULT]}, "appears twice"),
        ({"hours": [OpeningHours(0, "09:00", "12:00", ["surgery"])]}, "unknown reasons: surgery"),
        ({"hours": [OpeningHours(0, "12:00", "09:00", ["consult"])]}, "end before they start"),
        ({"reminder_minutes": [60, 60]}, "offset appears twice"),
    ],
)
def test_settings_problems(changes: dict[str, object], problem: str | None) -> None:
    problems = settings_problems(msgspec.structs.replace(SETTINGS, **changes))
    assert (problem is None) == (not problems)
    if problem:
        assert any(problem in p for p in problems), problems


def test_the_grid_does_not_depend_on_the_range_asked_for() -> None:
    mornings = AgendaSettings(
        time_zone="Europe/Paris",
        reasons=[CONSULT],
        hours=[OpeningHours(0, "09:00", "12:00", ["consult"])],
    )
    early = Opening(utc(3, 30, 6, 45), utc(3, 30, 7, 15))  # 08:45-09:15 local, overlapping 09:00
    whole = grid_slots(mornings, CONSULT, utc(3, 30, 0), utc(3, 31, 0), [early])
    later = grid_slots(mornings, CONSULT, utc(3, 30, 8), utc(3, 31, 0), [early])
    assert later == [s for s in whole if s >= utc(3, 30, 8)]
    offered = whole[3]
    assert (
        slot_refusal(mornings, "consult", offered, utc(3, 29, 0), is_patient=True, openings=[early])
        is None
    )
