"""Vacation and auto-reply rules, and which auto-replies were sent."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database, insert_new
from storage.hot import Autocommit, Hot
from storage.schema import rule_firings, rules

__all__ = ["Rules"]

_RULES_OF = Hot(
    select(rules.c.id, rules.c.rule)
    .where(rules.c.practitioner_id == bindparam("practitioner_id"))
    .order_by(rules.c.position, rules.c.id)
)


async def _rules_of(
    conn: AsyncConnection | Autocommit, practitioner_id: int
) -> list[tuple[int, bytes]]:
    """(id, encoded rule) of each of the practitioner's rules, in order."""
    return [
        (i, rule) for i, rule in await _RULES_OF.rows(conn, {"practitioner_id": practitioner_id})
    ]


class Rules:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of(self, practitioner_id: int) -> list[tuple[int, bytes]]:
        async with self.db.read_one() as conn:
            return await _rules_of(conn, practitioner_id)


class RuleTx:
    """Rules inside one write transaction (``WriteTx.rules``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def of_in(self, practitioner_id: int) -> list[tuple[int, bytes]]:
        return await _rules_of(self.conn, practitioner_id)

    async def add(self, practitioner_id: int, position: int, rule: bytes, now: int) -> int:
        rule_id = await self.conn.scalar(
            insert(rules)
            .values(practitioner_id=practitioner_id, position=position, rule=rule, updated_at=now)
            .returning(rules.c.id)
        )
        assert rule_id is not None
        return int(rule_id)

    async def replace(
        self,
        practitioner_id: int,
        rule_id: int,
        position: int,
        rule: bytes,
        now: int,
    ) -> bool:
        """Store a changed rule; False if it is not one of the practitioner's."""
        done = await self.conn.execute(
            update(rules)
            .where(rules.c.id == rule_id, rules.c.practitioner_id == practitioner_id)
            .values(position=position, rule=rule, updated_at=now)
        )
        return bool(done.rowcount)

    async def delete(self, practitioner_id: int, rule_id: int) -> bool:
        done = await self.conn.execute(
            delete(rules).where(rules.c.id == rule_id, rules.c.practitioner_id == practitioner_id)
        )
        return bool(done.rowcount)

    async def fire(self, rule_id: int, thread_id: int, occurrence: int, now: int) -> bool:
        """Record that the rule answered in this thread for this window; False
        if it already had (on any node: the primary key decides)."""
        return await insert_new(
            self.conn,
            rule_firings,
            rule_id=rule_id,
            thread_id=thread_id,
            occurrence=occurrence,
            fired_at=now,
        )
