"""The notification outbox: what is to reach a person outside the app
(a push to a closed app, an email, an appointment reminder), handed over at
least once, each attempt claimed so that two nodes never make the same one
at once (``server.reminders.deliver_notifications``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.hot import Hot
from storage.schema import notification_outbox

__all__ = ["Notification", "Outbox", "OutboxTx"]


@dataclass(frozen=True, slots=True)
class Notification:
    """An outbox entry claimed for an attempt (``attempt``: 1 for the first)."""

    id: int
    user_id: int
    kind: str
    body: bytes  # JSON
    attempt: int


def _due(now: Any) -> ColumnElement[bool]:
    """An entry not delivered whose next attempt is due at ``now``."""
    columns = notification_outbox.c
    return and_(columns.delivered_at.is_(None), columns.next_attempt_at <= now)


_DUE = Hot(
    select(notification_outbox.c.id)
    .where(_due(bindparam("now")))
    .order_by(notification_outbox.c.next_attempt_at, notification_outbox.c.id)
    .limit(bindparam("limit"))
)


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, now: int, claim_ms: int, limit: int) -> list[Notification]:
        """Up to ``limit`` notifications due for an attempt, oldest first,
        each claimed for ``claim_ms`` (no other node attempts it meanwhile).
        They are found by a read, and a write transaction is opened only if
        there are some (the push queue asks ten times a second). The UPDATE
        checks each is still due: of two nodes claiming at once, each entry
        goes to one."""
        columns = notification_outbox.c
        async with self.db.read_one() as reading:
            found = [row[0] for row in await _DUE.rows(reading, {"now": now, "limit": limit})]
        if not found:
            return []
        async with self.db.write() as conn:
            claimed = await conn.execute(
                update(notification_outbox)
                .where(columns.id.in_(found), _due(now))
                .values(next_attempt_at=now + claim_ms, attempts=columns.attempts + 1)
                .returning(
                    columns.id, columns.user_id, columns.kind, columns.body, columns.attempts
                )
            )
            rows = {row[0]: Notification(*row) for row in claimed}
        return [rows[entry] for entry in found if entry in rows]

    async def delivered(self, notification_ids: Sequence[int], now: int) -> None:
        """Handed over: the entry keeps no body (what it said, a reset
        link's secret among them, is nobody's business once sent)."""
        if notification_ids:
            await self._update_notifications(notification_ids, delivered_at=now, body=b"{}")

    async def retry_at(self, notification_id: int, when: int) -> None:
        """A failed attempt: the next one is due at ``when``."""
        await self._update_notifications([notification_id], next_attempt_at=when)

    async def _update_notifications(
        self, notification_ids: Sequence[int], **values: int | bytes
    ) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                update(notification_outbox)
                .where(notification_outbox.c.id.in_(sorted(notification_ids)))
                .values(**values)
            )


class OutboxTx:
    """The outbox inside one write transaction (``WriteTx.outbox``): an
    entry is added in the transaction of what it tells."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, user_id: int, kind: str, body: bytes, now: int) -> None:
        await self.conn.execute(
            insert(notification_outbox).values(
                user_id=user_id, kind=kind, body=body, created_at=now, delivered_at=None
            )
        )
