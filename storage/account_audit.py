"""Each account's append-only trail: password, second factor, recovery
address, sessions ended, deactivation. Rows are added, never changed; they
are written in the transaction of the change they record."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.schema import account_audit

__all__ = ["AccountAudit", "AccountAuditRow", "AccountAuditTx", "record"]


@dataclass(frozen=True, slots=True)
class AccountAuditRow:
    id: int
    at: int
    action: str
    actor_id: int | None  # the user, an admin, or None for the server
    detail: str


async def record(
    conn: AsyncConnection,
    user_id: int,
    at: int,
    action: str,
    *,
    actor: int | None,
    detail: str = "",
) -> None:
    values = {"user_id": user_id, "at": at, "action": action, "actor_id": actor}
    await conn.execute(insert(account_audit).values(**values, detail=detail[:120]))


class AccountAudit:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of_user(
        self, user_id: int, before_id: int | None, limit: int
    ) -> list[AccountAuditRow]:
        """The account's trail before entry ``before_id``, newest first."""
        columns = account_audit.c
        query = select(columns.id, columns.at, columns.action, columns.actor_id, columns.detail)
        query = query.where(columns.user_id == user_id)
        if before_id is not None:
            query = query.where(columns.id < before_id)
        async with self.db.read() as conn:
            rows = await conn.execute(query.order_by(columns.id.desc()).limit(limit))
            return [AccountAuditRow(*row) for row in rows]


class AccountAuditTx:
    """The trail inside one write transaction (``WriteTx.account_audit``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def record(
        self, user_id: int, at: int, action: str, *, actor: int | None, detail: str = ""
    ) -> None:
        await record(self.conn, user_id, at, action, actor=actor, detail=detail)
