"""agenda.*: a practitioner's visit reasons and hours, exceptions to them,
the free slots anyone may see, and the day and week views of the agenda.

A practitioner shapes their own agenda; an assistant (or bot) shapes the
agenda of a practitioner who delegated ``agenda`` to them (``docs/booking.md``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import msgspec

from protocol.booking import (
    AgendaDayParams,
    AgendaParams,
    AgendaSettings,
    AgendaView,
    ExceptionIdParams,
    ExceptionInfo,
    ExceptionKind,
    ExceptionParams,
    SlotsParams,
    SlotsResult,
)
from protocol.model import Empty
from server.connection import Connection
from server.context import Services
from server.convert import appointment_info
from server.errors import invalid
from server.ops.agenda import (
    agenda_of,
    agenda_owner,
    decode_settings,
    drop_exception,
    plan_exception,
    removable_exception,
    split_exceptions,
    store_exception,
    visit_reason,
)
from server.policy.slots import DAY_MS, Busy, free_slots, settings_problems
from storage.agenda import ExceptionRecord

__all__ = [
    "add_exception",
    "agenda_day",
    "agenda_week",
    "get_agenda",
    "remove_exception",
    "set_agenda",
    "slots",
]

MAX_SLOT_RANGE_MS = 62 * DAY_MS
_encode = msgspec.msgpack.Encoder().encode


def _exception_info(record: ExceptionRecord) -> ExceptionInfo:
    return ExceptionInfo(
        record.id,
        record.practitioner_id,
        ExceptionKind(record.kind),
        record.starts_at,
        record.ends_at,
        list(record.reasons),
        record.note,
    )


# Settings


async def get_agenda(ctx: Services, conn: Connection, p: AgendaParams) -> AgendaSettings:
    """A practitioner's visit reasons, hours and booking rules: public, so a
    patient can choose a reason before asking for slots."""
    practitioner = p.practitioner or conn.user_id
    if practitioner == conn.user_id:
        agenda_owner(ctx, conn, None)
        blob = await ctx.store.agendas.settings(practitioner)
        return AgendaSettings() if blob is None else decode_settings(blob)
    return await agenda_of(ctx, practitioner)


async def set_agenda(ctx: Services, conn: Connection, settings: AgendaSettings) -> AgendaSettings:
    """The practitioner's own settings (hours and reasons are theirs to set)."""
    agenda_owner(ctx, conn, None)
    problems = settings_problems(settings)
    if problems:
        raise invalid("; ".join(problems), problems=problems)
    await ctx.store.agendas.set_settings(conn.user_id, _encode(settings), ctx.clock.ms())
    return settings


# Exceptions


async def add_exception(ctx: Services, conn: Connection, p: ExceptionParams) -> ExceptionInfo:
    plan = plan_exception(ctx, conn, p)
    return _exception_info(await ctx.writer.run(partial(store_exception, plan)))


async def remove_exception(ctx: Services, conn: Connection, p: ExceptionIdParams) -> Empty:
    exception_id = await removable_exception(ctx, conn, p.exception)
    await ctx.writer.run(partial(drop_exception, exception_id))
    return Empty()


# Slots and views


async def slots(ctx: Services, conn: Connection, p: SlotsParams) -> SlotsResult:
    settings = await agenda_of(ctx, p.practitioner)
    reason = visit_reason(settings, p.reason)
    if not 0 < p.ends_at - p.starts_at <= MAX_SLOT_RANGE_MS:
        raise invalid("a slot range is up to 62 days", limit_days=62)
    now = ctx.clock.ms()
    step = reason.minutes * 60_000
    end = p.ends_at + step
    exceptions = await ctx.store.agendas.exceptions(p.practitioner, p.starts_at, end)
    booked = await ctx.store.appointments.busy_times(p.practitioner, p.starts_at, end, now)
    openings, closed = split_exceptions(exceptions)
    taken = Busy(booked)
    found = free_slots(
        settings, reason, p.starts_at, p.ends_at, now, openings=openings, closed=closed, taken=taken
    )
    return SlotsResult(found, reason.minutes, settings.time_zone)


async def agenda_day(ctx: Services, conn: Connection, p: AgendaDayParams) -> AgendaView:
    return await _view(ctx, conn, p, days=1)


async def agenda_week(ctx: Services, conn: Connection, p: AgendaDayParams) -> AgendaView:
    return await _view(ctx, conn, p, days=7)


async def _view(ctx: Services, conn: Connection, p: AgendaDayParams, *, days: int) -> AgendaView:
    practitioner = agenda_owner(ctx, conn, p.practitioner)
    blob = await ctx.store.agendas.settings(practitioner)
    settings = AgendaSettings() if blob is None else decode_settings(blob)
    zone = ZoneInfo(settings.time_zone)
    try:
        day = date.fromisoformat(p.date)
    except ValueError:
        raise invalid("not a date", date=p.date) from None
    if days == 7:
        day -= timedelta(days=day.weekday())  # the week starts on Monday
    start = int(datetime.combine(day, time(0), zone).timestamp() * 1000)
    end = int(datetime.combine(day + timedelta(days=days), time(0), zone).timestamp() * 1000)
    now = ctx.clock.ms()
    booked = await ctx.store.appointments.holding_time(practitioner, start, end, now)
    exceptions = await ctx.store.agendas.exceptions(practitioner, start, end)
    appointments = [appointment_info(a) for a in booked]
    people = {a.patient for a in appointments} | {a.subject for a in appointments if a.subject}
    found = await ctx.store.accounts.users(people) if people else {}
    return AgendaView(
        practitioner,
        settings.time_zone,
        start,
        end,
        appointments,
        [_exception_info(e) for e in exceptions],
        {user: record.display_name for user, record in found.items()},
    )
