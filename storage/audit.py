"""Each thread's append-only trail: rows are added, never changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.hot import Hot, insert_of
from storage.schema import audit

__all__ = ["AUDIT_COLUMNS", "FILED", "Audit", "AuditRow", "AuditTx"]

FILED = "filed"  # a records device filed the thread's messages (``docs/records.md``)


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    thread_id: int
    at: int
    action: str
    actor_id: int | None
    acting_for: int | None
    seq: int | None
    user_id: int | None
    rule_id: int | None
    detail: str


_COLUMNS = (
    audit.c.id,
    audit.c.thread_id,
    audit.c.at,
    audit.c.action,
    audit.c.actor_id,
    audit.c.acting_for,
    audit.c.seq,
    audit.c.user_id,
    audit.c.rule_id,
    audit.c.detail,
)
AUDIT_COLUMNS = tuple(column.key for column in _COLUMNS[1:])  # what a line gives
_INSERT = Hot(insert_of(audit, *AUDIT_COLUMNS))


class Audit:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of_thread(self, thread_id: int, after_id: int, limit: int) -> list[AuditRow]:
        """The thread's trail after entry ``after_id``, oldest first."""
        query = (
            select(*_COLUMNS)
            .where(audit.c.thread_id == thread_id, audit.c.id > after_id)
            .order_by(audit.c.id)
            .limit(limit)
        )
        async with self.db.read() as conn:
            return [AuditRow(**row._asdict()) for row in await conn.execute(query)]

    async def filings(
        self, actor_id: int, after_thread: int, limit: int
    ) -> list[tuple[int, int, int]]:
        """``(thread, through, at)``: how far ``actor_id`` filed each thread
        after ``after_thread``, and when it last did (``ix_audit_filer``)."""
        query = (
            select(audit.c.thread_id, func.max(audit.c.seq), func.max(audit.c.at))
            .where(
                audit.c.action == FILED,
                audit.c.actor_id == actor_id,
                audit.c.thread_id > after_thread,
            )
            .group_by(audit.c.thread_id)
            .order_by(audit.c.thread_id)
            .limit(limit)
        )
        async with self.db.read() as conn:
            return [(thread, through, at) for thread, through, at in await conn.execute(query)]


class AuditTx:
    """Audit inside one write transaction (``WriteTx.audit``). Its lines are
    written together when the transaction ends: with the events, in their
    statement (``EventTx.store`` on PostgreSQL), or by ``flush`` (one
    ``executemany``). A line costs a send no round trip of its own, and
    nothing reads the trail inside a write transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._lines: list[dict[str, Any]] = []

    def record(
        self,
        thread_id: int,
        at: int,
        action: str,
        *,
        actor: int | None = None,
        acting_for: int | None = None,
        seq: int | None = None,
        user: int | None = None,
        rule: int | None = None,
        detail: str = "",
    ) -> None:
        values = {"thread_id": thread_id, "at": at, "action": action, "actor_id": actor}
        values |= {"acting_for": acting_for, "seq": seq, "user_id": user}
        values |= {"rule_id": rule, "detail": detail[:120]}
        self._lines.append(values)

    def take(self) -> list[dict[str, Any]]:
        """The lines recorded so far, for a statement that writes them
        (``EventTx.store``); they are no longer this one's to write."""
        lines, self._lines = self._lines, []
        return lines

    async def flush(self) -> None:
        """Write the lines recorded so far, in the order they were recorded."""
        lines = self.take()
        if lines:
            await _INSERT.run_many(self.conn, lines)
