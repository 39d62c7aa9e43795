"""Devices' push subscriptions (one per device: a browser's Web Push
subscription or a mobile app's token), people's notification preferences,
and what the push queue reads of the event stream. An endpoint is a secret
of one browser or app; it belongs to one user, whose devices may pass it
from one to another (a re-subscribe), and to nobody else."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database, insert_new, upsert_into
from storage.errors import Conflict
from storage.schema import (
    events,
    messages,
    notify_preferences,
    participants,
    push_subscriptions,
    stream_positions,
    users,
)

__all__ = [
    "AppointmentCandidate",
    "NotifyState",
    "PushCandidate",
    "PushSubscriptions",
    "PushTarget",
    "Reader",
]

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
    platform: str = "web"  # "web" (endpoint: a URL), "fcm" or "apns" (endpoint: the app's token)


@dataclass(frozen=True, slots=True)
class PushCandidate:
    """A stored message that may call for pushes to its readers' devices."""

    seq: int  # its event's
    message_id: int
    thread_id: int
    thread_seq: int
    sender_id: int
    created_at: int


@dataclass(frozen=True, slots=True)
class Reader:
    """A current member of a thread, as the push queue sees them."""

    read_seq: int
    muted: bool


@dataclass(frozen=True, slots=True)
class NotifyState:
    """What the push queue needs of a person beside their devices."""

    role: str
    preferences: bytes | None  # protocol.push.NotifyPreferences, MessagePack
    emailed_at: int | None


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
                platform=target.platform,
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

    async def envelope(self, message_id: int, limit: int) -> bytes | None:
        """A message's envelope for a preview, if it is at most ``limit``
        bytes (and not retracted: its envelope is then empty)."""
        async with self.db.read() as conn:
            found = await conn.scalar(
                select(messages.c.envelope).where(messages.c.id == message_id)
            )
        return found if found and len(found) <= limit else None

    # A person's notification preferences

    async def preferences(self, user_id: int) -> bytes | None:
        async with self.db.read() as conn:
            return await conn.scalar(
                select(notify_preferences.c.settings).where(notify_preferences.c.user_id == user_id)
            )

    async def set_preferences(self, user_id: int, settings: bytes, now: int) -> None:
        values = {"settings": settings, "updated_at": now}
        async with self.db.write() as conn:
            if not await insert_new(conn, notify_preferences, user_id=user_id, **values):
                await conn.execute(
                    update(notify_preferences)
                    .where(notify_preferences.c.user_id == user_id)
                    .values(values)
                )

    # The push queue's place in the event stream


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
            table.c.platform,
        )
        .where(where)
        .order_by(table.c.device_id)
    )
    return [PushTarget(*row) for row in rows]


class PushTx:
    """PushSubscriptions inside one write transaction (``WriteTx.push``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def of_users(self, user_ids: Iterable[int]) -> list[PushTarget]:
        return await _targets(self.conn, push_subscriptions.c.user_id.in_(sorted(set(user_ids))))

    async def notify_states(self, user_ids: Iterable[int]) -> dict[int, NotifyState]:
        table = notify_preferences
        rows = await self.conn.execute(
            select(users.c.id, users.c.role, table.c.settings, table.c.emailed_at)
            .outerjoin(table, table.c.user_id == users.c.id)
            .where(users.c.id.in_(sorted(set(user_ids))))
        )
        return {row.id: NotifyState(row.role, row.settings, row.emailed_at) for row in rows}

    async def emailed(self, user_id: int, now: int) -> None:
        await self.conn.execute(
            update(notify_preferences)
            .where(notify_preferences.c.user_id == user_id)
            .values(emailed_at=now)
        )

    async def readers(self, thread_ids: Iterable[int]) -> dict[int, dict[int, Reader]]:
        """The threads' current members: how far each read, whether they
        muted it (one statement for a round's threads)."""
        found: dict[int, dict[int, Reader]] = {thread: {} for thread in thread_ids}
        rows = await self.conn.execute(
            select(
                participants.c.thread_id,
                participants.c.user_id,
                participants.c.read_seq,
                participants.c.muted,
            ).where(participants.c.thread_id.in_(sorted(found)), participants.c.left_seq.is_(None))
        )
        for row in rows:
            found[row.thread_id][row.user_id] = Reader(row.read_seq, bool(row.muted))
        return found

    async def position(self) -> int:
        """Where the push queue stands in the event stream (-1 at first: it
        starts from the stream's head, not from its past), locked until the
        transaction ends: a second round (two nodes each holding the lease
        while Redis is out of reach) waits, then starts where this one ends,
        so the same events are never queued twice."""
        value = await self.conn.scalar(
            select(stream_positions.c.value)
            .where(stream_positions.c.name == POSITION)
            .with_for_update()
        )
        return -1 if value is None else int(value)

    async def advance(self, seq: int) -> None:
        new = upsert_into(self.conn, stream_positions).values(name=POSITION, value=seq)
        await self.conn.execute(
            new.on_conflict_do_update(index_elements=["name"], set_={"value": seq})
        )

    async def candidates(
        self, after: int, upto: int, limit: int
    ) -> list[PushCandidate | AppointmentCandidate]:
        """The events in (``after``, ``upto``] that may call for a push,
        oldest first: people's messages (not the server's notices) and the
        appointment events in ``APPOINTMENT_PUSHES`` (one read of the range)."""
        message = and_(events.c.type == "message.new", messages.c.sender_device_id.is_not(None))
        rows = await self.conn.execute(
            select(
                events.c.seq,
                events.c.type,
                events.c.user_id,
                events.c.data,
                events.c.created_at,
                messages.c.id,
                messages.c.thread_id,
                messages.c.seq,
                messages.c.sender_id,
            )
            .outerjoin(messages, messages.c.id == events.c.message_id)
            .where(
                events.c.seq > after,
                events.c.seq <= upto,
                or_(message, events.c.type.in_(APPOINTMENT_PUSHES)),
            )
            .order_by(events.c.seq)
            .limit(limit)
        )
        return [_candidate(row) for row in rows]


def _candidate(row: Sequence[Any]) -> PushCandidate | AppointmentCandidate:
    seq, type_, user_id, data, created_at, message_id, thread_id, thread_seq, sender_id = row
    if type_ == "message.new":
        return PushCandidate(seq, message_id, thread_id, thread_seq, sender_id, created_at)
    return AppointmentCandidate(seq, type_, user_id, data, created_at)
