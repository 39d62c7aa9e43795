"""Devices' Web Push subscriptions: one per device. An endpoint is a secret
URL of one browser's subscription; it belongs to one user, whose devices
may pass it from one to another (a re-subscribe), and to nobody else."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database, insert_new
from storage.errors import Conflict
from storage.schema import events, messages, push_subscriptions, stream_positions

__all__ = ["AppointmentCandidate", "PushCandidate", "PushSubscriptions", "PushTarget"]

# The appointment events a person may want to hear of with the app closed.
APPOINTMENT_PUSHES = ("appointment.cancelled", "appointment.rescheduled", "appointment.reminder")

POSITION = "push"  # the last event the push queue looked at


@dataclass(frozen=True, slots=True)
class PushTarget:
    device_id: int
    user_id: int
    endpoint: str
    p256dh: str
    auth: str
    preview: bool


@dataclass(frozen=True, slots=True)
class PushCandidate:
    """A stored message that may call for pushes to its readers' devices."""

    seq: int  # its event's
    thread_id: int
    thread_seq: int
    sender_id: int
    created_at: int


@dataclass(frozen=True, slots=True)
class AppointmentCandidate:
    """An appointment event for one person (each has their own)."""

    seq: int
    type: str
    user_id: int
    data: bytes
    created_at: int


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

    async def of_device(self, device_id: int) -> PushTarget | None:
        async with self.db.read() as conn:
            found = await _targets(conn, push_subscriptions.c.device_id == device_id)
        return found[0] if found else None

    @staticmethod
    async def of_users(conn: AsyncConnection, user_ids: Iterable[int]) -> list[PushTarget]:
        return await _targets(conn, push_subscriptions.c.user_id.in_(sorted(set(user_ids))))

    @staticmethod
    async def position(conn: AsyncConnection) -> int:
        """Where the push queue stands in the event stream (0 at first: it
        starts from the stream's head, not from its past)."""
        value = await conn.scalar(
            select(stream_positions.c.value).where(stream_positions.c.name == POSITION)
        )
        return -1 if value is None else int(value)

    @staticmethod
    async def advance(conn: AsyncConnection, seq: int) -> None:
        if not await insert_new(conn, stream_positions, name=POSITION, value=seq):
            await conn.execute(
                update(stream_positions)
                .where(stream_positions.c.name == POSITION)
                .values(value=seq)
            )

    @staticmethod
    async def candidates(
        conn: AsyncConnection, after: int, upto: int, limit: int
    ) -> list[PushCandidate]:
        """People's messages (not the server's notices) of the events in
        (``after``, ``upto``], oldest first."""
        rows = await conn.execute(
            select(
                events.c.seq,
                messages.c.thread_id,
                messages.c.seq,
                messages.c.sender_id,
                events.c.created_at,
            )
            .join(messages, messages.c.id == events.c.message_id)
            .where(
                events.c.type == "message.new",
                events.c.seq > after,
                events.c.seq <= upto,
                messages.c.sender_device_id.is_not(None),
            )
            .order_by(events.c.seq)
            .limit(limit)
        )
        return [PushCandidate(*row) for row in rows]

    @staticmethod
    async def appointment_candidates(
        conn: AsyncConnection, after: int, upto: int, limit: int
    ) -> list[AppointmentCandidate]:
        rows = await conn.execute(
            select(
                events.c.seq, events.c.type, events.c.user_id, events.c.data, events.c.created_at
            )
            .where(
                events.c.type.in_(APPOINTMENT_PUSHES),
                events.c.seq > after,
                events.c.seq <= upto,
            )
            .order_by(events.c.seq)
            .limit(limit)
        )
        return [AppointmentCandidate(*row) for row in rows]


async def _targets(conn: AsyncConnection, where: ColumnElement[bool]) -> list[PushTarget]:
    table = push_subscriptions
    rows = await conn.execute(
        select(
            table.c.device_id,
            table.c.user_id,
            table.c.endpoint,
            table.c.p256dh,
            table.c.auth,
            table.c.preview,
        )
        .where(where)
        .order_by(table.c.device_id)
    )
    return [PushTarget(*row) for row in rows]
