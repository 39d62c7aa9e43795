"""agenda.*: a practitioner's visit reasons and hours, exceptions to them,
the free slots anyone may see, and the day and week views of the agenda.

A practitioner shapes their own agenda; an assistant (or bot) shapes the
agenda of a practitioner who delegated ``agenda`` to them (``docs/booking.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec

from protocol.booking import (
    AgendaDayParams,
    AgendaParams,
    AgendaSettings,
    AgendaView,
    BookingRefusal,
    ExceptionIdParams,
    ExceptionInfo,
    ExceptionKind,
    ExceptionParams,
    SlotsParams,
    SlotsResult,
    VisitReason,
)
from protocol.e2e import Scope
from protocol.model import Empty, Role
from server.connection import Connection
from server.context import Context
from server.convert import appointment_info
from server.errors import ServerError, invalid, not_found
from server.policy import Refusal
from server.policy.slots import DAY_MS, Busy, Opening, free_slots, settings_problems
from server.rpc.base import delegated
from server.writer import Outgoing
from storage.agenda import ExceptionRecord
from storage.tx import WriteTx

__all__ = [
    "add_exception",
    "agenda_day",
    "agenda_owner",
    "agenda_week",
    "decode_settings",
    "get_agenda",
    "remove_exception",
    "set_agenda",
    "slots",
    "split_exceptions",
    "visit_reason",
]

MAX_SLOT_RANGE_MS = 62 * DAY_MS
_decode = msgspec.msgpack.Decoder(AgendaSettings).decode
_encode = msgspec.msgpack.Encoder().encode


def decode_settings(blob: bytes) -> AgendaSettings:
    return _decode(blob)


def agenda_owner(ctx: Context, conn: Connection, practitioner: int | None) -> int:
    """Whose agenda the caller shapes: their own (a practitioner's), or that
    of a practitioner who delegated ``agenda`` to them."""
    if practitioner is None or practitioner == conn.user_id:
        if conn.role is not Role.PRACTITIONER:
            raise Refusal(BookingRefusal.NOT_AGENDA, "only practitioners have an agenda").error()
        return conn.user_id
    if not delegated(ctx, conn, practitioner, Scope.AGENDA):
        raise Refusal(
            BookingRefusal.NOT_AGENDA,
            "you do not keep this practitioner's agenda",
            {"practitioner": practitioner},
        ).error()
    return practitioner


async def agenda_of(ctx: Context, practitioner: int) -> AgendaSettings:
    """A verified practitioner's agenda; ``not_found`` if they have none."""
    blob = await ctx.store.agendas.settings(practitioner)
    if blob is None or not (await ctx.directory.practitioner(practitioner)).verified:
        raise not_found("this practitioner takes no bookings", practitioner=practitioner)
    return decode_settings(blob)


def visit_reason(settings: AgendaSettings, code: str) -> VisitReason:
    found = next((r for r in settings.reasons if r.code == code), None)
    if found is None:
        raise Refusal(
            BookingRefusal.UNKNOWN_REASON,
            "this practitioner offers no such visit",
            {"offered": [r.code for r in settings.reasons]},
        ).error()
    return found


def split_exceptions(
    records: Sequence[ExceptionRecord],
) -> tuple[list[Opening], Busy]:
    """One-off openings, and the closed time (absences and blocks)."""
    openings = [
        Opening(r.starts_at, r.ends_at, r.reasons)
        for r in records
        if r.kind == ExceptionKind.OPENING
    ]
    closed = Busy((r.starts_at, r.ends_at) for r in records if r.kind != ExceptionKind.OPENING)
    return openings, closed


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


async def get_agenda(ctx: Context, conn: Connection, p: AgendaParams) -> AgendaSettings:
    """A practitioner's visit reasons, hours and booking rules: public, so a
    patient can choose a reason before asking for slots."""
    practitioner = p.practitioner or conn.user_id
    if practitioner == conn.user_id:
        agenda_owner(ctx, conn, None)
        blob = await ctx.store.agendas.settings(practitioner)
        return AgendaSettings() if blob is None else decode_settings(blob)
    return await agenda_of(ctx, practitioner)


async def set_agenda(ctx: Context, conn: Connection, settings: AgendaSettings) -> AgendaSettings:
    """The practitioner's own settings (hours and reasons are theirs to set)."""
    agenda_owner(ctx, conn, None)
    problems = settings_problems(settings)
    if problems:
        raise invalid("; ".join(problems), problems=problems)
    await ctx.store.agendas.set_settings(conn.user_id, _encode(settings), ctx.clock.ms())
    return settings


# Exceptions


async def add_exception(ctx: Context, conn: Connection, p: ExceptionParams) -> ExceptionInfo:
    practitioner = agenda_owner(ctx, conn, p.practitioner)
    if p.ends_at <= p.starts_at:
        raise invalid("an exception ends after it starts")
    if p.kind is not ExceptionKind.OPENING and p.reasons:
        raise invalid("only an opening is for visit reasons")
    now = ctx.clock.ms()

    async def add(tx: WriteTx, out: list[Outgoing]) -> ExceptionRecord:
        return await tx.agendas.add_exception(
            practitioner,
            p.kind.value,
            p.starts_at,
            p.ends_at,
            p.reasons,
            p.note,
            conn.user_id,
            now,
        )

    return _exception_info(await ctx.writer.run(add))


async def remove_exception(ctx: Context, conn: Connection, p: ExceptionIdParams) -> Empty:
    found = await ctx.store.agendas.exception(p.exception)
    try:
        if found is None:
            raise not_found("no such exception")
        agenda_owner(ctx, conn, found.practitioner_id)
    except ServerError:  # someone else's looks like none: ids tell nothing
        raise not_found("no such exception", exception=p.exception) from None

    async def remove(tx: WriteTx, out: list[Outgoing]) -> None:
        await tx.agendas.remove_exception(p.exception)

    await ctx.writer.run(remove)
    return Empty()


# Slots and views


async def slots(ctx: Context, conn: Connection, p: SlotsParams) -> SlotsResult:
    settings = await agenda_of(ctx, p.practitioner)
    reason = visit_reason(settings, p.reason)
    if not 0 < p.ends_at - p.starts_at <= MAX_SLOT_RANGE_MS:
        raise invalid("a slot range is up to 62 days", limit_days=62)
    now = ctx.clock.ms()
    step = reason.minutes * 60_000
    agendas = ctx.store.agendas
    exceptions = await agendas.exceptions(p.practitioner, p.starts_at, p.ends_at + step)
    booked = await agendas.occupied_times(p.practitioner, p.starts_at, p.ends_at + step, now)
    openings, closed = split_exceptions(exceptions)
    taken = Busy(booked)
    found = free_slots(
        settings, reason, p.starts_at, p.ends_at, now, openings=openings, closed=closed, taken=taken
    )
    return SlotsResult(found, reason.minutes, settings.time_zone)


async def agenda_day(ctx: Context, conn: Connection, p: AgendaDayParams) -> AgendaView:
    return await _view(ctx, conn, p, days=1)


async def agenda_week(ctx: Context, conn: Connection, p: AgendaDayParams) -> AgendaView:
    return await _view(ctx, conn, p, days=7)


async def _view(ctx: Context, conn: Connection, p: AgendaDayParams, *, days: int) -> AgendaView:
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
    booked = await ctx.store.agendas.occupying(practitioner, start, end, now)
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
