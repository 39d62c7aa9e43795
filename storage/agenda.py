"""Agendas: settings, exceptions, appointments (holds included), reminders
and the notification outbox.

Every booking write runs inside the writer's transaction, after
``lock``: on PostgreSQL that row lock orders all bookings of one
practitioner across nodes; SQLite has one writer anyway. A hold is an
appointment row with ``status`` "held" that stops counting once
``hold_expires_at`` has passed, so an abandoned hold frees its slot without
anything having to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database, insert_new
from storage.schema import agenda_exceptions, agendas, appointments, notification_outbox, reminders

__all__ = ["Agendas", "AppointmentRecord", "ExceptionRecord", "Notification"]


@dataclass(frozen=True, slots=True)
class AppointmentRecord:
    id: int
    practitioner_id: int
    patient_id: int
    subject_id: int | None
    reason: str
    starts_at: int
    ends_at: int
    status: str
    hold_expires_at: int | None
    video: bool
    note: str
    cancelled_by: int | None
    cancel_reason: str


@dataclass(frozen=True, slots=True)
class Notification:
    """An outbox entry claimed for an attempt (``attempt``: 1 for the first)."""

    id: int
    user_id: int
    kind: str
    body: bytes  # JSON
    attempt: int


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    id: int
    practitioner_id: int
    kind: str
    starts_at: int
    ends_at: int
    reasons: tuple[str, ...]
    note: str


_APPOINTMENT = (
    appointments.c.id,
    appointments.c.practitioner_id,
    appointments.c.patient_id,
    appointments.c.subject_id,
    appointments.c.reason,
    appointments.c.starts_at,
    appointments.c.ends_at,
    appointments.c.status,
    appointments.c.hold_expires_at,
    appointments.c.video,
    appointments.c.note,
    appointments.c.cancelled_by,
    appointments.c.cancel_reason,
)
_EXCEPTION = (
    agenda_exceptions.c.id,
    agenda_exceptions.c.practitioner_id,
    agenda_exceptions.c.kind,
    agenda_exceptions.c.starts_at,
    agenda_exceptions.c.ends_at,
    agenda_exceptions.c.reasons,
    agenda_exceptions.c.note,
)


def _appointment(row: Any) -> AppointmentRecord:
    values = list(row)
    values[9] = bool(values[9])  # video: SQLite stores 0 and 1
    return AppointmentRecord(*values)


def _exception(row: Any) -> ExceptionRecord:
    reasons = tuple(r for r in row[5].split(",") if r)
    return ExceptionRecord(row[0], row[1], row[2], row[3], row[4], reasons, row[6])


def _occupying(now: int) -> Any:
    """Appointments that hold their time: kept ones, and holds still alive."""
    return or_(
        appointments.c.status.in_(("confirmed", "no_show")),
        and_(appointments.c.status == "held", appointments.c.hold_expires_at > now),
    )


class Agendas:
    def __init__(self, db: Database) -> None:
        self.db = db

    # Settings

    async def settings(self, practitioner_id: int) -> bytes | None:
        query = select(agendas.c.settings).where(agendas.c.practitioner_id == practitioner_id)
        async with self.db.read() as conn:
            return await conn.scalar(query)

    async def set_settings(self, practitioner_id: int, settings: bytes, now: int) -> None:
        async with self.db.write() as conn:
            created = await insert_new(
                conn,
                agendas,
                practitioner_id=practitioner_id,
                settings=settings,
                version=0,
                updated_at=now,
            )
            if not created:
                await conn.execute(
                    update(agendas)
                    .where(agendas.c.practitioner_id == practitioner_id)
                    .values(settings=settings, updated_at=now)
                )

    # Exceptions

    async def exceptions(self, practitioner_id: int, start: int, end: int) -> list[ExceptionRecord]:
        async with self.db.read() as conn:
            return await AgendaTx(conn).exceptions_in(practitioner_id, start, end)

    async def exception(self, exception_id: int) -> ExceptionRecord | None:
        query = select(*_EXCEPTION).where(agenda_exceptions.c.id == exception_id)
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _exception(row)

    # Appointments

    async def occupied_times(
        self, practitioner_id: int, start: int, end: int, now: int
    ) -> list[tuple[int, int]]:
        """Only the (start, end) of ``occupying``: what slot computation needs."""
        query = select(appointments.c.starts_at, appointments.c.ends_at).where(
            appointments.c.practitioner_id == practitioner_id,
            appointments.c.starts_at < end,
            appointments.c.ends_at > start,
            _occupying(now),
        )
        async with self.db.read() as conn:
            return [(row[0], row[1]) for row in await conn.execute(query)]

    async def occupying(
        self, practitioner_id: int, start: int, end: int, now: int
    ) -> list[AppointmentRecord]:
        async with self.db.read() as conn:
            return await AgendaTx(conn).occupying_in(practitioner_id, start, end, now)

    async def appointment(self, appointment_id: int) -> AppointmentRecord | None:
        async with self.db.read() as conn:
            return await AgendaTx(conn).get(appointment_id)

    async def of_patient(self, patient_id: int, since: int) -> list[AppointmentRecord]:
        """The appointments ``patient_id`` booked (for themselves or a
        relative) ending after ``since``, by start."""
        query = (
            select(*_APPOINTMENT)
            .where(appointments.c.patient_id == patient_id, appointments.c.ends_at > since)
            .order_by(appointments.c.starts_at, appointments.c.id)
        )
        async with self.db.read() as conn:
            return [_appointment(row) for row in await conn.execute(query)]

    # Reminders

    # The notification outbox

    async def claim_notifications(self, now: int, claim_ms: int, limit: int) -> list[Notification]:
        """Up to ``limit`` notifications due for an attempt, oldest first,
        each claimed for ``claim_ms`` (no other node attempts it meanwhile).
        The UPDATE checks each is still due: of two nodes claiming at once,
        each entry goes to one."""
        columns = notification_outbox.c
        due = (
            select(columns.id)
            .where(columns.delivered_at.is_(None), columns.next_attempt_at <= now)
            .order_by(columns.next_attempt_at, columns.id)
            .limit(limit)
        )
        async with self.db.write() as conn:
            found = list((await conn.execute(due)).scalars())
            if not found:
                return []
            claimed = await conn.execute(
                update(notification_outbox)
                .where(columns.id.in_(found), columns.next_attempt_at <= now)
                .values(next_attempt_at=now + claim_ms, attempts=columns.attempts + 1)
                .returning(
                    columns.id, columns.user_id, columns.kind, columns.body, columns.attempts
                )
            )
            rows = {row[0]: Notification(*row) for row in claimed}
        return [rows[entry] for entry in found if entry in rows]

    async def delivered(self, notification_ids: Sequence[int], now: int) -> None:
        if notification_ids:
            await self._update_notifications(notification_ids, delivered_at=now)

    async def retry_at(self, notification_ids: Sequence[int], when: int) -> None:
        """Failed attempts: the next one is due at ``when``."""
        if notification_ids:
            await self._update_notifications(notification_ids, next_attempt_at=when)

    async def _update_notifications(self, notification_ids: Sequence[int], **values: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                update(notification_outbox)
                .where(notification_outbox.c.id.in_(sorted(notification_ids)))
                .values(**values)
            )


class AgendaTx:
    """Agendas inside one write transaction (``WriteTx.agendas``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock(self, practitioner_id: int) -> bytes | None:
        """The practitioner's settings, their row locked until commit (on
        PostgreSQL; SQLite serialises writers already). None: no agenda."""
        query = (
            select(agendas.c.settings)
            .where(agendas.c.practitioner_id == practitioner_id)
            .with_for_update()
        )
        return await self.conn.scalar(query)

    async def exceptions_in(
        self, practitioner_id: int, start: int, end: int
    ) -> list[ExceptionRecord]:
        """The exceptions meeting ``[start, end)``, by start."""
        query = (
            select(*_EXCEPTION)
            .where(
                agenda_exceptions.c.practitioner_id == practitioner_id,
                agenda_exceptions.c.ends_at > start,
                agenda_exceptions.c.starts_at < end,
            )
            .order_by(agenda_exceptions.c.starts_at, agenda_exceptions.c.id)
        )
        return [_exception(row) for row in await self.conn.execute(query)]

    async def add_exception(
        self,
        practitioner_id: int,
        kind: str,
        start: int,
        end: int,
        reasons: Iterable[str],
        note: str,
        created_by: int,
        now: int,
    ) -> ExceptionRecord:
        codes = tuple(reasons)
        exception_id = await self.conn.scalar(
            insert(agenda_exceptions)
            .values(
                practitioner_id=practitioner_id,
                kind=kind,
                starts_at=start,
                ends_at=end,
                reasons=",".join(codes),
                note=note,
                created_by=created_by,
                created_at=now,
            )
            .returning(agenda_exceptions.c.id)
        )
        assert exception_id is not None
        return ExceptionRecord(int(exception_id), practitioner_id, kind, start, end, codes, note)

    async def remove_exception(self, exception_id: int) -> bool:
        done = await self.conn.execute(
            delete(agenda_exceptions).where(agenda_exceptions.c.id == exception_id)
        )
        return bool(done.rowcount)

    async def occupied(
        self,
        practitioner_id: int,
        start: int,
        end: int,
        now: int,
        *,
        excluding: int | None = None,
    ) -> bool:
        """Whether an appointment or a live hold meets ``[start, end)``."""
        query = select(appointments.c.id).where(
            appointments.c.practitioner_id == practitioner_id,
            appointments.c.starts_at < end,
            appointments.c.ends_at > start,
            _occupying(now),
        )
        if excluding is not None:
            query = query.where(appointments.c.id != excluding)
        return await self.conn.scalar(query.limit(1)) is not None

    async def occupying_in(
        self, practitioner_id: int, start: int, end: int, now: int
    ) -> list[AppointmentRecord]:
        """Appointments and live holds meeting ``[start, end)``, by start."""
        query = (
            select(*_APPOINTMENT)
            .where(
                appointments.c.practitioner_id == practitioner_id,
                appointments.c.starts_at < end,
                appointments.c.ends_at > start,
                _occupying(now),
            )
            .order_by(appointments.c.starts_at, appointments.c.id)
        )
        return [_appointment(row) for row in await self.conn.execute(query)]

    async def live_holds(self, patient_id: int, now: int) -> int:
        query = select(func.count()).where(
            appointments.c.patient_id == patient_id,
            appointments.c.status == "held",
            appointments.c.hold_expires_at > now,
        )
        return int(await self.conn.scalar(query) or 0)

    async def hold(
        self,
        *,
        practitioner_id: int,
        patient_id: int,
        reason: str,
        start: int,
        end: int,
        expires: int,
        video: bool,
        created_by: int,
        now: int,
    ) -> AppointmentRecord:
        appointment_id = await self.conn.scalar(
            insert(appointments)
            .values(
                practitioner_id=practitioner_id,
                patient_id=patient_id,
                subject_id=None,
                reason=reason,
                starts_at=start,
                ends_at=end,
                status="held",
                hold_expires_at=expires,
                video=video,
                note="",
                created_by=created_by,
                created_at=now,
                cancelled_by=None,
                cancel_reason="",
            )
            .returning(appointments.c.id)
        )
        assert appointment_id is not None
        found = await self.get(int(appointment_id))
        assert found is not None
        return found

    async def get(self, appointment_id: int) -> AppointmentRecord | None:
        query = select(*_APPOINTMENT).where(appointments.c.id == appointment_id)
        row = (await self.conn.execute(query)).first()
        return None if row is None else _appointment(row)

    async def change(self, appointment_id: int, **values: Any) -> AppointmentRecord:
        await self.conn.execute(
            update(appointments).where(appointments.c.id == appointment_id).values(**values)
        )
        found = await self.get(appointment_id)
        assert found is not None
        return found

    async def schedule_reminders(self, appointment_id: int, due: Iterable[tuple[int, int]]) -> None:
        """Replace the reminders of an appointment (confirmed, or moved: the
        old ones were for another time) by ``due`` (offset in minutes, due
        time)."""
        await self.conn.execute(
            delete(reminders).where(reminders.c.appointment_id == appointment_id)
        )
        for offset, due_at in due:
            await insert_new(
                self.conn,
                reminders,
                appointment_id=appointment_id,
                offset_minutes=offset,
                due_at=due_at,
                sent_at=None,
            )

    async def cancel_reminders(self, appointment_id: int) -> None:
        await self.conn.execute(
            delete(reminders).where(
                reminders.c.appointment_id == appointment_id, reminders.c.sent_at.is_(None)
            )
        )

    async def claim_due_reminders(self, now: int, limit: int) -> list[tuple[int, int]]:
        """Mark up to ``limit`` due reminders sent, in this transaction, and
        return them (appointment, offset): each is claimed once, ever."""
        query = (
            select(reminders.c.appointment_id, reminders.c.offset_minutes)
            .where(reminders.c.sent_at.is_(None), reminders.c.due_at <= now)
            .order_by(reminders.c.due_at)
            .limit(limit)
        )
        claimed = []
        for appointment_id, offset in (await self.conn.execute(query)).all():
            done = await self.conn.execute(
                update(reminders)
                .where(
                    reminders.c.appointment_id == appointment_id,
                    reminders.c.offset_minutes == offset,
                    reminders.c.sent_at.is_(None),
                )
                .values(sent_at=now)
            )
            if done.rowcount:
                claimed.append((appointment_id, offset))
        return claimed

    async def to_outbox(self, user_id: int, kind: str, body: bytes, now: int) -> None:
        await self.conn.execute(
            insert(notification_outbox).values(
                user_id=user_id, kind=kind, body=body, created_at=now, delivered_at=None
            )
        )
