"""Appointments (holds included) and their reminders.

Every booking write runs inside the writer's transaction, after the
practitioner's agenda is locked (``AgendaTx.lock``): on PostgreSQL that row
lock orders all bookings of one practitioner across nodes; SQLite has one
writer anyway. A hold is an appointment row with ``status`` "held" that
stops counting once ``hold_expires_at`` has passed, so an abandoned hold
frees its slot without anything having to run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database, insert_new
from storage.schema import appointments, reminders

__all__ = ["AppointmentRecord", "AppointmentTx", "Appointments"]


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


def _appointment(row: Any) -> AppointmentRecord:
    values = list(row)
    values[9] = bool(values[9])  # video: SQLite stores 0 and 1
    return AppointmentRecord(*values)


def _holds_its_time(now: int) -> Any:
    """Appointments that hold their time: kept ones, and holds still alive."""
    return or_(
        appointments.c.status.in_(("confirmed", "no_show")),
        and_(appointments.c.status == "held", appointments.c.hold_expires_at > now),
    )


class Appointments:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def busy_times(
        self, practitioner_id: int, start: int, end: int, now: int
    ) -> list[tuple[int, int]]:
        """The (start, end) of what ``holding_time`` finds: what slots need."""
        query = select(appointments.c.starts_at, appointments.c.ends_at).where(
            appointments.c.practitioner_id == practitioner_id,
            appointments.c.starts_at < end,
            appointments.c.ends_at > start,
            _holds_its_time(now),
        )
        async with self.db.read() as conn:
            return [(row[0], row[1]) for row in await conn.execute(query)]

    async def holding_time(
        self, practitioner_id: int, start: int, end: int, now: int
    ) -> list[AppointmentRecord]:
        """Appointments and live holds meeting ``[start, end)``, by start."""
        query = (
            select(*_APPOINTMENT)
            .where(
                appointments.c.practitioner_id == practitioner_id,
                appointments.c.starts_at < end,
                appointments.c.ends_at > start,
                _holds_its_time(now),
            )
            .order_by(appointments.c.starts_at, appointments.c.id)
        )
        async with self.db.read() as conn:
            return [_appointment(row) for row in await conn.execute(query)]

    async def get(self, appointment_id: int) -> AppointmentRecord | None:
        async with self.db.read() as conn:
            return await AppointmentTx(conn).get(appointment_id)

    async def of_patient(
        self, patient_id: int, since: int, *, or_practitioner: bool = False
    ) -> list[AppointmentRecord]:
        """The appointments ``patient_id`` booked (for themselves or a
        relative) ending after ``since``, by start; ``or_practitioner``:
        also those in their agenda, if they are a practitioner."""
        whose = appointments.c.patient_id == patient_id
        if or_practitioner:
            whose |= appointments.c.practitioner_id == patient_id
        query = (
            select(*_APPOINTMENT)
            .where(whose, appointments.c.ends_at > since)
            .order_by(appointments.c.starts_at, appointments.c.id)
        )
        async with self.db.read() as conn:
            return [_appointment(row) for row in await conn.execute(query)]


class AppointmentTx:
    """Appointments inside one write transaction (``WriteTx.appointments``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def overlaps(
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
            _holds_its_time(now),
        )
        if excluding is not None:
            query = query.where(appointments.c.id != excluding)
        return await self.conn.scalar(query.limit(1)) is not None

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
