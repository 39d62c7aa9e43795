"""Vacation and auto-reply rules, and which auto-replies were sent."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database, insert_new
from storage.schema import rule_firings, rules

__all__ = ["Rules"]


class Rules:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of(self, practitioner_id: int) -> list[tuple[int, bytes]]:
        async with self.db.read() as conn:
            return await self.of_in(conn, practitioner_id)

    @staticmethod
    async def of_in(conn: AsyncConnection, practitioner_id: int) -> list[tuple[int, bytes]]:
        """(id, encoded rule) of each of the practitioner's rules, in order."""
        query = (
            select(rules.c.id, rules.c.rule)
            .where(rules.c.practitioner_id == practitioner_id)
            .order_by(rules.c.position, rules.c.id)
        )
        return [(row.id, row.rule) for row in await conn.execute(query)]

    @staticmethod
    async def add(
        conn: AsyncConnection, practitioner_id: int, position: int, rule: bytes, now: int
    ) -> int:
        rule_id = await conn.scalar(
            insert(rules)
            .values(practitioner_id=practitioner_id, position=position, rule=rule, updated_at=now)
            .returning(rules.c.id)
        )
        assert rule_id is not None
        return int(rule_id)

    @staticmethod
    async def replace(
        conn: AsyncConnection,
        practitioner_id: int,
        rule_id: int,
        position: int,
        rule: bytes,
        now: int,
    ) -> bool:
        """Store a changed rule; False if it is not one of the practitioner's."""
        done = await conn.execute(
            update(rules)
            .where(rules.c.id == rule_id, rules.c.practitioner_id == practitioner_id)
            .values(position=position, rule=rule, updated_at=now)
        )
        return bool(done.rowcount)

    @staticmethod
    async def delete(conn: AsyncConnection, practitioner_id: int, rule_id: int) -> bool:
        done = await conn.execute(
            delete(rules).where(rules.c.id == rule_id, rules.c.practitioner_id == practitioner_id)
        )
        return bool(done.rowcount)

    @staticmethod
    async def fire(
        conn: AsyncConnection, rule_id: int, thread_id: int, occurrence: int, now: int
    ) -> bool:
        """Record that the rule answered in this thread for this window; False
        if it already had (on any node: the primary key decides)."""
        return await insert_new(
            conn,
            rule_firings,
            rule_id=rule_id,
            thread_id=thread_id,
            occurrence=occurrence,
            fired_at=now,
        )
