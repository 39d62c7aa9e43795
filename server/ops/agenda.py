"""A practitioner's agenda as handlers share it: its settings, who may
manage it (the practitioner, or a secretary with the ``agenda`` scope),
its visit reasons and its exceptions split into openings and busy times;
adding an exception (planned, then stored) and removing one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from protocol.booking import (
    AgendaSettings,
    BookingRefusal,
    ExceptionKind,
    ExceptionParams,
    VisitReason,
)
from protocol.e2e import Scope
from protocol.model import Role
from server.connection import Connection
from server.context import Services
from server.errors import ServerError, invalid, not_found
from server.ops.access import delegated
from server.policy import Refusal
from server.policy.slots import Busy, Opening
from server.writer import Outgoing
from storage.agenda import ExceptionRecord
from storage.tx import WriteTx

__all__ = [
    "NewException",
    "agenda_of",
    "agenda_owner",
    "decode_settings",
    "drop_exception",
    "plan_exception",
    "removable_exception",
    "split_exceptions",
    "store_exception",
    "visit_reason",
]

_decode = msgspec.msgpack.Decoder(AgendaSettings).decode


def decode_settings(blob: bytes) -> AgendaSettings:
    return _decode(blob)


def agenda_owner(ctx: Services, conn: Connection, practitioner: int | None) -> int:
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


async def agenda_of(ctx: Services, practitioner: int) -> AgendaSettings:
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


@dataclass(frozen=True, slots=True)
class NewException:
    """An exception to a practitioner's hours, added by ``by``."""

    practitioner: int
    params: ExceptionParams
    by: int
    now: int


def plan_exception(ctx: Services, conn: Connection, p: ExceptionParams) -> NewException:
    practitioner = agenda_owner(ctx, conn, p.practitioner)
    if p.ends_at <= p.starts_at:
        raise invalid("an exception ends after it starts")
    if p.kind is not ExceptionKind.OPENING and p.reasons:
        raise invalid("only an opening is for visit reasons")
    return NewException(practitioner, p, conn.user_id, ctx.clock.ms())


async def store_exception(plan: NewException, tx: WriteTx, out: list[Outgoing]) -> ExceptionRecord:
    p = plan.params
    return await tx.agendas.add_exception(
        plan.practitioner,
        p.kind.value,
        p.starts_at,
        p.ends_at,
        p.reasons,
        p.note,
        plan.by,
        plan.now,
    )


async def removable_exception(ctx: Services, conn: Connection, exception_id: int) -> int:
    """An exception to an agenda the caller keeps; ``not_found`` otherwise."""
    found = await ctx.store.agendas.exception(exception_id)
    try:
        if found is None:
            raise not_found("no such exception")
        agenda_owner(ctx, conn, found.practitioner_id)
    except ServerError:  # someone else's looks like none: ids tell nothing
        raise not_found("no such exception", exception=exception_id) from None
    return exception_id


async def drop_exception(exception_id: int, tx: WriteTx, out: list[Outgoing]) -> None:
    """Nothing to check again: removing one already gone removes nothing."""
    await tx.agendas.remove_exception(exception_id)
