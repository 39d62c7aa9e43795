"""Relatives a patient manages: profiles without a login of their own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.schema import relatives, users

__all__ = ["RelativeRecord", "RelativeTx", "Relatives"]

# No password hash verifies against this: a managed profile cannot log in.
NO_LOGIN = "!managed"
_CURRENT = relatives.c.withdrawn_at.is_(None)  # consent given and not withdrawn


@dataclass(frozen=True, slots=True)
class RelativeRecord:
    user_id: int
    name: str
    relation: str
    consent: str
    consent_at: int
    birth_date: str | None = None


class Relatives:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        manager_id: int,
        name: str,
        relation: str,
        consent: str,
        now: int,
        birth_date: str | None = None,
    ) -> RelativeRecord:
        """A new patient profile for the relative, managed by ``manager_id``."""
        async with self.db.write() as conn:
            relative_id = await conn.scalar(
                insert(users)
                .values(
                    username=f"relative-{uuid.uuid4().hex}",
                    display_name=name,
                    role="patient",
                    password_hash=NO_LOGIN,
                    created_at=now,
                    birth_date=birth_date,
                )
                .returning(users.c.id)
            )
            assert relative_id is not None
            await conn.execute(
                insert(relatives).values(
                    manager_id=manager_id,
                    relative_id=relative_id,
                    relation=relation,
                    consent=consent,
                    consent_at=now,
                )
            )
        return RelativeRecord(int(relative_id), name, relation, consent, now, birth_date)

    async def of(self, manager_id: int) -> list[RelativeRecord]:
        query = (
            select(
                relatives.c.relative_id,
                users.c.display_name,
                relatives.c.relation,
                relatives.c.consent,
                relatives.c.consent_at,
                users.c.birth_date,
            )
            .join(users, users.c.id == relatives.c.relative_id)
            .where(relatives.c.manager_id == manager_id, _CURRENT)
            .order_by(relatives.c.relative_id)
        )
        async with self.db.read() as conn:
            return [RelativeRecord(*row) for row in await conn.execute(query)]

    async def manages(self, manager_id: int, relative_id: int) -> bool:
        query = select(relatives.c.relation).where(
            relatives.c.manager_id == manager_id, relatives.c.relative_id == relative_id, _CURRENT
        )
        async with self.db.read() as conn:
            return await conn.scalar(query) is not None

    async def managers(self, relative_id: int) -> list[int]:
        """Who manages ``relative_id``'s profile (none for a patient of their own)."""
        query = select(relatives.c.manager_id).where(
            relatives.c.relative_id == relative_id, _CURRENT
        )
        async with self.db.read() as conn:
            return sorted((await conn.scalars(query)).all())


class RelativeTx:
    """Relatives inside one write transaction (``WriteTx.relatives``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def managed(self, manager_id: int) -> list[int]:
        """The relatives whose profile ``manager_id`` manages now."""
        query = select(relatives.c.relative_id).where(
            relatives.c.manager_id == manager_id, _CURRENT
        )
        return sorted((await self.conn.scalars(query)).all())

    async def manages(self, manager_id: int, relative_id: int) -> bool:
        """Whether the consent still holds, as this transaction commits: the
        row is locked for share (PostgreSQL), so a withdrawal committing
        meanwhile is either seen or waits for this transaction to end."""
        query = (
            select(relatives.c.relation)
            .where(
                relatives.c.manager_id == manager_id,
                relatives.c.relative_id == relative_id,
                _CURRENT,
            )
            .with_for_update(read=True)
        )
        return await self.conn.scalar(query) is not None

    async def withdraw(self, manager_id: int, relative_id: int, now: int) -> bool:
        """The manager withdraws their consent; False if they did not manage the profile."""
        which = (relatives.c.manager_id == manager_id) & (relatives.c.relative_id == relative_id)
        done = await self.conn.execute(
            update(relatives).where(which, _CURRENT).values(withdrawn_at=now)
        )
        return bool(done.rowcount)
