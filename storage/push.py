"""Devices' Web Push subscriptions: one per device. An endpoint is a secret
URL of one browser's subscription; it belongs to one user, whose devices
may pass it from one to another (a re-subscribe), and to nobody else."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select

from storage.db import Database, insert_new
from storage.errors import Conflict
from storage.schema import push_subscriptions

__all__ = ["PushSubscriptions", "PushTarget"]


@dataclass(frozen=True, slots=True)
class PushTarget:
    device_id: int
    user_id: int
    endpoint: str
    p256dh: str
    auth: str
    preview: bool


class PushSubscriptions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def subscribe(self, target: PushTarget, now: int) -> None:
        """Keep ``target`` as its device's subscription (replacing one it
        had). Conflict: the endpoint is another user's."""
        table = push_subscriptions
        async with self.db.write() as conn:
            owner = await conn.scalar(
                select(table.c.user_id).where(table.c.endpoint == target.endpoint)
            )
            if owner is not None and owner != target.user_id:
                raise Conflict("this push endpoint belongs to another account")
            await conn.execute(
                delete(table).where(
                    (table.c.device_id == target.device_id) | (table.c.endpoint == target.endpoint)
                )
            )
            await insert_new(
                conn,
                table,
                device_id=target.device_id,
                user_id=target.user_id,
                endpoint=target.endpoint,
                p256dh=target.p256dh,
                auth=target.auth,
                preview=target.preview,
                created_at=now,
            )

    async def unsubscribe(self, device_id: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                delete(push_subscriptions).where(push_subscriptions.c.device_id == device_id)
            )

    async def gone(self, endpoint: str) -> None:
        """The push service said the subscription no longer exists (404/410)."""
        async with self.db.write() as conn:
            await conn.execute(
                delete(push_subscriptions).where(push_subscriptions.c.endpoint == endpoint)
            )

    async def of_users(self, user_ids: Iterable[int]) -> list[PushTarget]:
        table = push_subscriptions
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(
                    table.c.device_id,
                    table.c.user_id,
                    table.c.endpoint,
                    table.c.p256dh,
                    table.c.auth,
                    table.c.preview,
                )
                .where(table.c.user_id.in_(sorted(set(user_ids))))
                .order_by(table.c.device_id)
            )
        return [PushTarget(*row) for row in rows]
