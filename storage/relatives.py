"""Relatives a patient manages: profiles without a login of their own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import insert, select

from storage.db import Database
from storage.schema import relatives, users

__all__ = ["RelativeRecord", "Relatives"]

# No password hash verifies against this: a managed profile cannot log in.
NO_LOGIN = "!managed"


@dataclass(frozen=True, slots=True)
class RelativeRecord:
    user_id: int
    name: str
    relation: str
    consent: str
    consent_at: int


class Relatives:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, manager_id: int, name: str, relation: str, consent: str, now: int
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
        return RelativeRecord(int(relative_id), name, relation, consent, now)

    async def of(self, manager_id: int) -> list[RelativeRecord]:
        query = (
            select(
                relatives.c.relative_id,
                users.c.display_name,
                relatives.c.relation,
                relatives.c.consent,
                relatives.c.consent_at,
            )
            .join(users, users.c.id == relatives.c.relative_id)
            .where(relatives.c.manager_id == manager_id)
            .order_by(relatives.c.relative_id)
        )
        async with self.db.read() as conn:
            return [RelativeRecord(*row) for row in await conn.execute(query)]

    async def manages(self, manager_id: int, relative_id: int) -> bool:
        query = select(relatives.c.relation).where(
            relatives.c.manager_id == manager_id, relatives.c.relative_id == relative_id
        )
        async with self.db.read() as conn:
            return await conn.scalar(query) is not None

    async def managers(self, relative_id: int) -> list[int]:
        """Who manages ``relative_id``'s profile (none for a patient of their own)."""
        query = select(relatives.c.manager_id).where(relatives.c.relative_id == relative_id)
        async with self.db.read() as conn:
            return sorted((await conn.scalars(query)).all())
