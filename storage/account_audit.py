"""Each account's append-only trail: password, second factor, recovery
address, sessions ended, deactivation. Rows are added, never changed; they
are written in the transaction of the change they record."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import insert, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.schema import account_audit, notification_outbox, users

__all__ = ["ALERTED", "SECURITY", "AccountAudit", "AccountAuditRow", "AccountAuditTx", "record"]

SECURITY = "security"  # the outbox kind of "your password (or second factor) changed"
# The changes the account's owner is told of by email, if they gave an
# address: whoever made one without them learns it cannot stay unseen.
ALERTED = frozenset(
    {"password_changed", "password_reset", "totp_enabled", "totp_disabled", "totp_reset"}
)


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
    if action in ALERTED:
        await _alert(conn, user_id, at, action)


async def _alert(conn: AsyncConnection, user_id: int, at: int, action: str) -> None:
    """Queue the email telling the owner, in the change's transaction, if
    the account has an address to send it to."""
    body = json.dumps({"action": action}).encode()
    row = select(users.c.id, literal(SECURITY), literal(body), literal(at))
    await conn.execute(
        insert(notification_outbox).from_select(
            ["user_id", "kind", "body", "created_at"],
            row.where(users.c.id == user_id, users.c.email.is_not(None)),
        )
    )


class AccountAudit:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, user_id: int, at: int, action: str, *, actor: int | None, detail: str = ""
    ) -> None:
        """A line recording what changed nothing (a wrong code tried)."""
        async with self.db.write() as conn:
            await record(conn, user_id, at, action, actor=actor, detail=detail)

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
