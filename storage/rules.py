"""Vacation and auto-reply rules, and which auto-replies were sent."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.batches import Batched, rows_of_each
from storage.db import Database, insert_new
from storage.hot import Autocommit, Hot, unnested
from storage.schema import rule_firings, rules

__all__ = ["Rules"]


def _rules(*numbered: ColumnElement[Any]) -> Select[Any]:
    return select(*numbered, rules.c.id, rules.c.rule)


# (id, encoded rule) of each of a practitioner's rules, in order; on
# PostgreSQL, those of the practitioners asked meanwhile in one statement.
_RULES_OF = Hot(
    _rules()
    .where(rules.c.practitioner_id == bindparam("practitioner_id"))
    .order_by(rules.c.position, rules.c.id)
)
_ASKED = unnested({"practitioner_id": BigInteger()})
_RULES_OF_EACH = Hot(
    _rules(_ASKED.c.n)
    .where(rules.c.practitioner_id == _ASKED.c.practitioner_id)
    .order_by(_ASKED.c.n, rules.c.position, rules.c.id)
)


async def _rules_of(
    conn: AsyncConnection | Autocommit, practitioner_id: int
) -> list[tuple[int, bytes]]:
    return [
        (i, rule) for i, rule in await _RULES_OF.rows(conn, {"practitioner_id": practitioner_id})
    ]


class Rules:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._rules = Batched(self._read_rules)

    async def of(self, practitioner_id: int) -> list[tuple[int, bytes]]:
        """(id, encoded rule) of each of the practitioner's rules, in order
        (read with those asked meanwhile)."""
        return await self._rules(practitioner_id)

    async def _read_rules(self, practitioner_ids: list[int]) -> list[list[tuple[int, bytes]]]:
        asked = [{"practitioner_id": practitioner_id} for practitioner_id in practitioner_ids]
        async with self.db.read_one() as conn:
            found = await rows_of_each(conn, _RULES_OF, _RULES_OF_EACH, asked)
        return [[(i, rule) for i, rule in rows] for rows in found]


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
