"""Agendas: a practitioner's booking settings and their exceptions
(absences, extra openings). ``AgendaTx.lock`` takes the agenda's row lock
that every booking write of that practitioner starts with
(``storage.appointments``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database, insert_new
from storage.schema import agenda_exceptions, agendas

__all__ = ["AgendaTx", "Agendas", "ExceptionRecord"]


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    id: int
    practitioner_id: int
    kind: str
    starts_at: int
    ends_at: int
    reasons: tuple[str, ...]
    note: str


_EXCEPTION = (
    agenda_exceptions.c.id,
    agenda_exceptions.c.practitioner_id,
    agenda_exceptions.c.kind,
    agenda_exceptions.c.starts_at,
    agenda_exceptions.c.ends_at,
    agenda_exceptions.c.reasons,
    agenda_exceptions.c.note,
)


def _exception(row: Any) -> ExceptionRecord:
    reasons = tuple(r for r in row[5].split(",") if r)
    return ExceptionRecord(row[0], row[1], row[2], row[3], row[4], reasons, row[6])


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
