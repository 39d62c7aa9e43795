"""Vacation and auto-reply rules: which one, if any, answers a patient now.

Pure: the caller passes ``now`` (UTC ms). Weekly spans are wall-clock times in
the rule's timezone; their edges become UTC instants the way RFC 5545 §3.3.5
reads local times, so each window is one stretch of real time, even on the
nights the clocks change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from zoneinfo import ZoneInfo

from protocol.practice import RefusalReason, Rule, RuleAction, WeeklySpan
from server.policy.refusal import Refusal
from server.policy.zones import find_zone

__all__ = [
    "Firing",
    "active_rule",
    "rule_problems",
    "rule_refusal",
    "span_problems",
    "weekly_window",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_DAY_MINUTES = 24 * 60
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ORDER = attrgetter("position", "id")


@dataclass(frozen=True, slots=True)
class Firing:
    """The rule that applies and its current window. ``occurrence`` (UTC ms,
    when the window began) names the window, so the server auto-replies once
    per thread per window; ``until`` is None when the window is open-ended."""

    rule: Rule
    occurrence: int
    until: int | None


def active_rule(rules: Sequence[Rule], patient: int, now: int) -> Firing | None:
    """The first enabled rule, by ``position`` then ``id``, that is active at
    ``now`` and does not exempt ``patient``; None if there is none."""
    for rule in sorted(rules, key=_ORDER):
        if not rule.enabled:
            continue
        if (rule.starts is not None and now < rule.starts) or (
            rule.ends is not None and now >= rule.ends
        ):
            continue
        if patient in rule.exempt:
            continue
        if not rule.weekly:
            return Firing(rule, rule.starts or 0, rule.ends)
        window = weekly_window(rule.weekly, rule.timezone, now)
        if window is None:
            continue
        begins, ends = window
        if rule.starts is not None:
            begins = max(begins, rule.starts)
        if rule.ends is not None:
            ends = min(ends, rule.ends)
        return Firing(rule, begins, ends)
    return None


def rule_refusal(firing: Firing | None) -> Refusal | None:
    """The refusal a ``refuse`` rule gives a patient's new message, with the
    rule's text, when it ends and the colleague it points to."""
    if firing is None or firing.rule.action is not RuleAction.REFUSE:
        return None
    details: dict[str, int] = {"rule": firing.rule.id}
    if firing.until is not None:
        details["until"] = firing.until
    if firing.rule.redirect_to is not None:
        details["redirect_to"] = firing.rule.redirect_to
    return Refusal(RefusalReason.UNAVAILABLE, firing.rule.text, details, own_words=True)


def rule_problems(rule: Rule) -> list[str]:
    """What is wrong with ``rule``, in words to show; empty if nothing. The
    Struct has already checked formats and ranges."""
    problems = []
    if find_zone(rule.timezone) is None:
        problems.append(f"unknown timezone {rule.timezone!r}")
    if rule.starts is not None and rule.ends is not None and rule.ends <= rule.starts:
        problems.append("the rule must end after it starts")
    return problems + span_problems(rule.weekly)


def span_problems(spans: Sequence[WeeklySpan]) -> list[str]:
    """What is wrong with weekly spans, in English."""
    problems = []
    for span in spans:
        name = f"{_DAYS[span.day]} {span.start}-{span.end}"
        if span.start == span.end:
            problems.append(f"weekly span {name} starts when it ends (a whole day is 00:00-24:00)")
        elif span.start == "24:00":
            problems.append(f"weekly span {name} starts at 24:00 (start at 00:00 the next day)")
    return problems


def weekly_window(spans: Sequence[WeeklySpan], timezone: str, now: int) -> tuple[int, int] | None:
    """The span occurrence holding ``now``, as UTC ms [begins, ends).

    ``now`` in local time gives the day; the span's edges on that day are then
    compared as instants. That agrees with the wall clock except on the nights
    it jumps: an edge in the spring gap is read as ``_utc_ms`` reads it, and in
    the hour autumn repeats a span ending at 02:30 does not reopen at the
    second 02:00, nor does one starting at 02:30 pause until the second 02:30.
    """
    zone = find_zone(timezone)
    if zone is None:
        return None  # rule_problems refuses such a zone; never guess its hours
    local = datetime.fromtimestamp(now // 1000, zone)
    midnight = datetime(local.year, local.month, local.day)  # naive: wall-clock arithmetic
    weekday = local.weekday()
    for span in spans:
        days_back = (weekday - span.day) % 7
        if days_back > 1:
            continue  # a span ends by the end of the next day: it began today or yesterday
        start, end = _minutes(span)
        day = midnight - timedelta(days=days_back)
        begins = _utc_ms(day + timedelta(minutes=start), zone)
        if begins > now:
            continue
        ends = _utc_ms(day + timedelta(minutes=end), zone)
        if now < ends:
            return begins, ends
    return None


def _minutes(span: WeeklySpan) -> tuple[int, int]:
    """Start and end in minutes after the span day's midnight; an end at or
    before the start falls on the next day."""
    start = int(span.start[:2]) * 60 + int(span.start[3:])
    end = int(span.end[:2]) * 60 + int(span.end[3:])
    return start, end if end > start else end + _DAY_MINUTES


def _utc_ms(wall: datetime, zone: ZoneInfo) -> int:
    """UTC ms of the naive local time ``wall`` in ``zone``.

    As RFC 5545 §3.3.5 reads local times, and as fold=0 does (PEP 495): a time
    skipped in spring takes the offset from before the gap, so Paris 02:30 on
    2026-03-29 is 01:30 UTC (03:30 on the wall, shifted by the gap); a time
    repeated in autumn is its first occurrence.
    """
    return (wall.replace(tzinfo=zone) - _EPOCH) // _MS
