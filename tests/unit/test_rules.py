"""Vacation and auto-reply rules: tables over server.policy.rules.

Expected instants are written by hand in UTC; the comments give the local
time they stand for. The reference week is Monday 2026-01-05 to Sunday
2026-01-11; Europe/Paris changes clocks on 2026-03-29 (02:00 CET becomes
03:00 CEST) and 2026-10-25 (03:00 CEST becomes 02:00 CET).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from protocol.practice import Rule, WeeklySpan
from server.policy.rules import Firing, active_rule, rule_problems

PATIENT = 7
OTHER = 8


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, ms: int = 0) -> int:
    """UTC ms of an explicit UTC date and time."""
    moment = datetime(year, month, day, hour, minute, tzinfo=UTC) + timedelta(milliseconds=ms)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def rule(rule_id: int = 1, **fields: Any) -> Rule:
    return Rule(id=rule_id, name=f"rule {rule_id}", text="Away", **fields)


def span(day: int, start: str, end: str) -> WeeklySpan:
    return WeeklySpan(day, start, end)


T1 = utc(2026, 7, 1)
T2 = utc(2026, 7, 15)
MID = utc(2026, 7, 8)
LAST_MS = 59 * 60 * 1000 + 59 * 1000 + 999  # hh:59:59.999 after hh:00
FRIDAY_NIGHT = [span(4, "19:00", "08:00")]
SUNDAY_NIGHT = [span(6, "22:00", "06:00")]
WEEKEND = [span(5, "00:00", "24:00"), span(6, "00:00", "24:00")]
MONDAY_EVENING = [span(0, "18:00", "24:00")]
EVERY_NIGHT = [span(day, "19:00", "08:00") for day in range(7)]
ALL_DAY = [span(day, "00:00", "24:00") for day in range(7)]


def paris(weekly: list[WeeklySpan]) -> Rule:
    return rule(weekly=weekly, timezone="Europe/Paris")


# (rules, patient, now, id of the rule that fires or None)
SELECTION = [
    pytest.param([rule(starts=T1, ends=T2)], PATIENT, T1 - 1, None, id="dates-before-starts"),
    pytest.param([rule(starts=T1, ends=T2)], PATIENT, T1, 1, id="dates-at-starts"),
    pytest.param([rule(starts=T1, ends=T2)], PATIENT, MID, 1, id="dates-inside"),
    pytest.param([rule(starts=T1, ends=T2)], PATIENT, T2 - 1, 1, id="dates-last-ms"),
    pytest.param([rule(starts=T1, ends=T2)], PATIENT, T2, None, id="dates-at-ends"),
    pytest.param([rule(starts=T1, ends=T2)], PATIENT, utc(2026, 8, 1), None, id="dates-after"),
    pytest.param([rule(ends=T2)], PATIENT, utc(2000, 1, 1), 1, id="open-starts-long-before"),
    pytest.param([rule(ends=T2)], PATIENT, T2, None, id="open-starts-at-ends"),
    pytest.param([rule(starts=T1)], PATIENT, utc(2099, 1, 1), 1, id="open-ends-far-after"),
    pytest.param([rule(starts=T1)], PATIENT, T1 - 1, None, id="open-ends-before-starts"),
    pytest.param([rule()], PATIENT, MID, 1, id="open-both"),
    pytest.param([rule(enabled=False)], PATIENT, MID, None, id="disabled-alone"),
    pytest.param(
        [rule(1, enabled=False), rule(2, position=1)], PATIENT, MID, 2, id="disabled-falls-through"
    ),
    pytest.param([rule(exempt=[PATIENT])], PATIENT, MID, None, id="exempt-alone"),
    pytest.param(
        [rule(1, exempt=[OTHER, PATIENT]), rule(2, position=1)],
        PATIENT,
        MID,
        2,
        id="exempt-falls-through",
    ),
    pytest.param(
        [rule(1, exempt=[OTHER]), rule(2, position=1)], PATIENT, MID, 1, id="exempt-other-patient"
    ),
    pytest.param(
        [rule(1, position=2), rule(2, position=1)], PATIENT, MID, 2, id="position-not-list-order"
    ),
    pytest.param(
        [rule(5, position=1), rule(3, position=1)], PATIENT, MID, 3, id="position-tie-lowest-id"
    ),
    pytest.param(
        [rule(9, position=0), rule(1, position=1)], PATIENT, MID, 9, id="position-before-id"
    ),
    pytest.param(
        [rule(1, starts=T2), rule(2, position=1)], PATIENT, MID, 2, id="inactive-falls-through"
    ),
    pytest.param(
        [rule(1, weekly=ALL_DAY, timezone="Mars/Base"), rule(2, position=1)],
        PATIENT,
        MID,
        2,
        id="unknown-timezone-weekly-falls-through",
    ),
    pytest.param(
        [rule(1, timezone="Mars/Base")], PATIENT, MID, 1, id="unknown-timezone-without-weekly"
    ),
    # Friday 19:00 to Saturday 08:00, UTC.
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT)], PATIENT, utc(2026, 1, 9, 18, 59), None, id="night-before"
    ),
    pytest.param([rule(weekly=FRIDAY_NIGHT)], PATIENT, utc(2026, 1, 9, 19), 1, id="night-at-start"),
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT)], PATIENT, utc(2026, 1, 9, 23, 30), 1, id="night-before-midnight"
    ),
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT)], PATIENT, utc(2026, 1, 10, 3), 1, id="night-after-midnight"
    ),
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT)],
        PATIENT,
        utc(2026, 1, 10, 7, ms=LAST_MS),
        1,
        id="night-last-ms",
    ),
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT)], PATIENT, utc(2026, 1, 10, 8), None, id="night-at-end"
    ),
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT)], PATIENT, utc(2026, 1, 8, 20), None, id="night-thursday"
    ),
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT)], PATIENT, utc(2026, 1, 10, 20), None, id="night-saturday"
    ),
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT)], PATIENT, utc(2026, 1, 16, 20), 1, id="night-next-week"
    ),
    pytest.param(
        [rule(weekly=SUNDAY_NIGHT)], PATIENT, utc(2026, 1, 12, 5), 1, id="sunday-night-monday"
    ),
    pytest.param(
        [rule(weekly=SUNDAY_NIGHT)], PATIENT, utc(2026, 1, 5, 22, 30), None, id="monday-night"
    ),
    pytest.param([rule(weekly=WEEKEND)], PATIENT, utc(2026, 1, 10), 1, id="weekend-saturday-0000"),
    pytest.param(
        [rule(weekly=WEEKEND)],
        PATIENT,
        utc(2026, 1, 11, 23, ms=LAST_MS),
        1,
        id="weekend-sunday-last-ms",
    ),
    pytest.param(
        [rule(weekly=WEEKEND)],
        PATIENT,
        utc(2026, 1, 9, 23, ms=LAST_MS),
        None,
        id="weekend-friday-last-ms",
    ),
    pytest.param([rule(weekly=WEEKEND)], PATIENT, utc(2026, 1, 12), None, id="weekend-monday-0000"),
    pytest.param(
        [rule(weekly=MONDAY_EVENING)],
        PATIENT,
        utc(2026, 1, 5, 23, ms=LAST_MS),
        1,
        id="2400-last-ms",
    ),
    pytest.param(
        [rule(weekly=MONDAY_EVENING)], PATIENT, utc(2026, 1, 6), None, id="2400-next-midnight"
    ),
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT, starts=utc(2026, 1, 10))],
        PATIENT,
        utc(2026, 1, 9, 20),
        None,
        id="span-before-starts",
    ),
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT, ends=utc(2026, 1, 9, 21))],
        PATIENT,
        utc(2026, 1, 9, 22),
        None,
        id="span-after-ends",
    ),
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT, exempt=[PATIENT]), rule(2, position=1)],
        PATIENT,
        utc(2026, 1, 9, 20),
        2,
        id="span-exempt-falls-through",
    ),
    # Asia/Tokyo is UTC+9: Saturday 07:00 local is Friday 22:00 UTC.
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT, timezone="Asia/Tokyo")],
        PATIENT,
        utc(2026, 1, 9, 22),
        1,
        id="tokyo-saturday-0700",
    ),
    pytest.param(
        [rule(weekly=FRIDAY_NIGHT, timezone="Asia/Tokyo")],
        PATIENT,
        utc(2026, 1, 10),
        None,
        id="tokyo-saturday-0900",
    ),
    pytest.param(
        [rule(weekly=[span(5, "08:00", "12:00")], timezone="Asia/Tokyo")],
        PATIENT,
        utc(2026, 1, 9, 23, 30),  # Saturday 08:30 local, still Friday in UTC
        1,
        id="tokyo-saturday-0830",
    ),
    # An end equal to the start runs a whole day (rule_problems flags it).
    pytest.param(
        [rule(weekly=[span(2, "09:00", "09:00")])],
        PATIENT,
        utc(2026, 1, 8, 8),
        1,
        id="start-is-end-runs-a-day",
    ),
]


@pytest.mark.parametrize(("rules", "patient", "now", "expected"), SELECTION)
def test_active_rule_selection(
    rules: list[Rule], patient: int, now: int, expected: int | None
) -> None:
    firing = active_rule(rules, patient, now)
    assert (firing.rule.id if firing else None) == expected


# (rule, now, expected (occurrence, until) or None)
WINDOWS = [
    pytest.param(rule(starts=T1, ends=T2), MID, (T1, T2), id="dates"),
    pytest.param(rule(ends=T2), MID, (0, T2), id="dates-open-starts"),
    pytest.param(rule(starts=T1), MID, (T1, None), id="dates-open-ends"),
    pytest.param(rule(), MID, (0, None), id="dates-open-both"),
    pytest.param(
        rule(weekly=FRIDAY_NIGHT),
        utc(2026, 1, 10, 3),
        (utc(2026, 1, 9, 19), utc(2026, 1, 10, 8)),
        id="night",
    ),
    pytest.param(
        rule(weekly=FRIDAY_NIGHT, starts=utc(2026, 1, 9, 21)),
        utc(2026, 1, 10, 3),
        (utc(2026, 1, 9, 21), utc(2026, 1, 10, 8)),
        id="night-clamped-to-starts",
    ),
    pytest.param(
        rule(weekly=FRIDAY_NIGHT, ends=utc(2026, 1, 10, 6)),
        utc(2026, 1, 10, 3),
        (utc(2026, 1, 9, 19), utc(2026, 1, 10, 6)),
        id="night-clamped-to-ends",
    ),
    pytest.param(
        rule(weekly=FRIDAY_NIGHT, starts=utc(2026, 1, 1), ends=utc(2026, 2, 1)),
        utc(2026, 1, 10, 3),
        (utc(2026, 1, 9, 19), utc(2026, 1, 10, 8)),
        id="night-inside-dates-unclamped",
    ),
    pytest.param(
        rule(weekly=SUNDAY_NIGHT),
        utc(2026, 1, 12, 5),
        (utc(2026, 1, 11, 22), utc(2026, 1, 12, 6)),
        id="sunday-night-across-week",
    ),
    pytest.param(
        rule(weekly=MONDAY_EVENING),
        utc(2026, 1, 5, 20),
        (utc(2026, 1, 5, 18), utc(2026, 1, 6)),
        id="2400-end",
    ),
    pytest.param(
        rule(weekly=WEEKEND),
        utc(2026, 1, 11, 12),
        (utc(2026, 1, 11), utc(2026, 1, 12)),
        id="weekend-sunday-own-window",
    ),
    pytest.param(
        rule(weekly=FRIDAY_NIGHT, timezone="Asia/Tokyo"),
        utc(2026, 1, 9, 22),
        (utc(2026, 1, 9, 10), utc(2026, 1, 9, 23)),
        id="tokyo",
    ),
    # Every night 19:00-08:00 in Paris around the spring change.
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 3, 27, 20),  # Friday 21:00 CET
        (utc(2026, 3, 27, 18), utc(2026, 3, 28, 7)),
        id="paris-spring-friday-cet",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 3, 28, 21),  # Saturday 22:00 CET
        (utc(2026, 3, 28, 18), utc(2026, 3, 29, 6)),  # ends Sunday 08:00 CEST
        id="paris-spring-saturday-evening",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 3, 29, 5, 59),  # Sunday 07:59 CEST
        (utc(2026, 3, 28, 18), utc(2026, 3, 29, 6)),
        id="paris-spring-sunday-0759-cest",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 3, 29, 6, 30),  # Sunday 08:30 CEST (07:30 if read as CET)
        None,
        id="paris-spring-sunday-0830-cest",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 3, 29, 16, 59),  # Sunday 18:59 CEST
        None,
        id="paris-spring-sunday-1859-cest",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 3, 29, 17, 30),  # Sunday 19:30 CEST (18:30 if read as CET)
        (utc(2026, 3, 29, 17), utc(2026, 3, 30, 6)),
        id="paris-spring-sunday-1930-cest",
    ),
    # The same nights around the autumn change.
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 10, 24, 17, 30),  # Saturday 19:30 CEST
        (utc(2026, 10, 24, 17), utc(2026, 10, 25, 7)),  # ends Sunday 08:00 CET
        id="paris-autumn-saturday-evening",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 10, 25, 0, 30),  # Sunday 02:30 CEST, first pass
        (utc(2026, 10, 24, 17), utc(2026, 10, 25, 7)),
        id="paris-autumn-repeated-hour-first",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 10, 25, 1, 30),  # Sunday 02:30 CET, second pass
        (utc(2026, 10, 24, 17), utc(2026, 10, 25, 7)),
        id="paris-autumn-repeated-hour-second",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 10, 25, 6, 30),  # Sunday 07:30 CET (08:30 if read as CEST)
        (utc(2026, 10, 24, 17), utc(2026, 10, 25, 7)),
        id="paris-autumn-sunday-0730-cet",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 10, 25, 17, 30),  # Sunday 18:30 CET (19:30 if read as CEST)
        None,
        id="paris-autumn-sunday-1830-cet",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 10, 25, 18),  # Sunday 19:00 CET
        (utc(2026, 10, 25, 18), utc(2026, 10, 26, 7)),
        id="paris-autumn-sunday-1900-cet",
    ),
    # Sunday 02:30-06:00: on 2026-03-29 02:30 does not exist and reads as
    # 03:30 CEST (01:30 UTC); on 2026-10-25 it comes twice and the first counts.
    pytest.param(
        paris([span(6, "02:30", "06:00")]),
        utc(2026, 3, 29, 0, 59),  # 01:59 CET, before the gap
        None,
        id="gap-start-before-gap",
    ),
    pytest.param(
        paris([span(6, "02:30", "06:00")]),
        utc(2026, 3, 29, 1, 15),  # 03:15 CEST
        None,
        id="gap-start-not-yet",
    ),
    pytest.param(
        paris([span(6, "02:30", "06:00")]),
        utc(2026, 3, 29, 1, 30),  # 03:30 CEST
        (utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 4)),
        id="gap-start-reads-as-0330",
    ),
    pytest.param(
        paris([span(6, "02:30", "06:00")]),
        utc(2026, 4, 5, 1),  # next Sunday 03:00 CEST
        (utc(2026, 4, 5, 0, 30), utc(2026, 4, 5, 4)),
        id="gap-start-next-sunday",
    ),
    pytest.param(
        paris([span(5, "22:00", "02:30")]),
        utc(2026, 3, 29, 1, 15),  # Sunday 03:15 CEST
        (utc(2026, 3, 28, 21), utc(2026, 3, 29, 1, 30)),
        id="gap-end-reads-as-0330",
    ),
    pytest.param(
        paris([span(5, "22:00", "02:30")]),
        utc(2026, 3, 29, 1, 30),  # Sunday 03:30 CEST
        None,
        id="gap-end-over",
    ),
    pytest.param(
        paris([span(6, "02:30", "06:00")]),
        utc(2026, 10, 25, 0, 29),  # 02:29 CEST
        None,
        id="repeated-start-before",
    ),
    pytest.param(
        paris([span(6, "02:30", "06:00")]),
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 5)),
        id="repeated-start-first-pass",
    ),
    pytest.param(
        paris([span(6, "02:30", "06:00")]),
        utc(2026, 10, 25, 1, 15),  # 02:15 CET: the clock is back before 02:30
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 5)),
        id="repeated-start-no-pause",
    ),
    pytest.param(
        paris([span(5, "22:00", "02:30")]),
        utc(2026, 10, 25, 0, 29),  # Sunday 02:29 CEST
        (utc(2026, 10, 24, 20), utc(2026, 10, 25, 0, 30)),
        id="repeated-end-first-pass",
    ),
    pytest.param(
        paris([span(5, "22:00", "02:30")]),
        utc(2026, 10, 25, 1, 15),  # Sunday 02:15 CET: the clock is back before 02:30
        None,
        id="repeated-end-no-reopen",
    ),
]


@pytest.mark.parametrize(("rule", "now", "expected"), WINDOWS)
def test_active_rule_window(rule: Rule, now: int, expected: tuple[int, int | None] | None) -> None:
    firing = active_rule([rule], PATIENT, now)
    if expected is None:
        assert firing is None
    else:
        assert firing == Firing(rule, *expected)


# (rule, two moments, whether they share one auto-reply window)
IDENTITY = [
    pytest.param(rule(starts=T1, ends=T2), T1, T2 - 1, True, id="dates-whole-vacation"),
    pytest.param(
        rule(weekly=FRIDAY_NIGHT), utc(2026, 1, 9, 20), utc(2026, 1, 10, 7), True, id="same-night"
    ),
    pytest.param(
        rule(weekly=FRIDAY_NIGHT), utc(2026, 1, 9, 20), utc(2026, 1, 16, 20), False, id="next-week"
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 3, 28, 21),
        utc(2026, 3, 29, 5),
        True,
        id="paris-night-across-spring-change",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 10, 24, 21),
        utc(2026, 10, 25, 6),
        True,
        id="paris-night-across-autumn-change",
    ),
    pytest.param(
        paris(EVERY_NIGHT),
        utc(2026, 3, 28, 21),
        utc(2026, 3, 29, 21),
        False,
        id="paris-consecutive-nights",
    ),
]


@pytest.mark.parametrize(("rule", "first", "second", "same"), IDENTITY)
def test_one_window_per_span_occurrence(rule: Rule, first: int, second: int, same: bool) -> None:
    one = active_rule([rule], PATIENT, first)
    two = active_rule([rule], PATIENT, second)
    assert one is not None
    assert two is not None
    assert (one.occurrence == two.occurrence) is same


# (rule, a word expected in each problem, in order)
PROBLEMS = [
    pytest.param(rule(), [], id="plain"),
    pytest.param(rule(starts=T1), [], id="open-ends"),
    pytest.param(
        rule(
            starts=T1,
            ends=T2,
            timezone="Europe/Paris",
            weekly=[span(4, "19:00", "08:00"), span(5, "00:00", "24:00")],
        ),
        [],
        id="weekly-valid",
    ),
    pytest.param(rule(timezone="Mars/Base"), ["Mars/Base"], id="timezone-unknown"),
    pytest.param(rule(timezone="../etc/passwd"), ["../etc/passwd"], id="timezone-malformed"),
    pytest.param(rule(timezone="Europe"), ["'Europe'"], id="timezone-a-directory"),
    pytest.param(rule(starts=T1, ends=T1), ["end after"], id="ends-at-starts"),
    pytest.param(rule(starts=T2, ends=T1), ["end after"], id="ends-before-starts"),
    pytest.param(
        rule(weekly=[span(2, "09:00", "09:00")]), ["Wednesday 09:00-09:00"], id="span-start-is-end"
    ),
    pytest.param(
        rule(weekly=[span(6, "24:00", "08:00")]), ["Sunday 24:00-08:00"], id="span-starts-2400"
    ),
    pytest.param(
        rule(
            timezone="Mars/Base",
            starts=T2,
            ends=T1,
            weekly=[span(0, "08:00", "12:00"), span(1, "00:00", "00:00")],
        ),
        ["timezone", "end after", "Tuesday 00:00-00:00"],
        id="several",
    ),
]


@pytest.mark.parametrize(("rule", "words"), PROBLEMS)
def test_rule_problems(rule: Rule, words: list[str]) -> None:
    problems = rule_problems(rule)
    assert len(problems) == len(words), problems
    for problem, word in zip(problems, words, strict=True):
        assert word in problem
