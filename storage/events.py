"""The durable event stream clients resume from.

Seqs are handed out by incrementing the ``events`` row of
``stream_positions`` inside the writing transaction. That row stays locked
until commit, so transactions commit in seq order and a reader that has seen
seq N has also seen every seq below it: no event is skipped on resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, insert, select, union, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.messages import COLUMNS as MESSAGE_COLUMNS
from storage.messages import StoredMessage, from_row
from storage.schema import delegations, events, messages, participants
from storage.schema import stream_positions as positions

__all__ = ["Events", "NewEvent", "StoredEvent"]


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to store: for a thread's members or for one user. A
    ``message.new`` event points at its message instead of carrying data."""

    type: str
    thread_id: int | None = None
    user_id: int | None = None
    message_id: int | None = None
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    type: str
    data: bytes | None
    message: StoredMessage | None


# The participant row's membership window covers the event.
_in_window = and_(
    events.c.seq > participants.c.joined_seq,
    participants.c.left_seq.is_(None) | (events.c.seq <= participants.c.left_seq),
)

_ADVANCE = (
    update(positions)
    .where(positions.c.name == bindparam("position"))
    .values(value=positions.c.value + bindparam("by"))
    .returning(positions.c.value)
)


async def _advance(conn: AsyncConnection, name: str, by: int) -> int:
    value = await conn.scalar(_ADVANCE, {"position": name, "by": by})
    assert value is not None
    return int(value)


class Events:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def append(conn: AsyncConnection, new: Sequence[NewEvent], now: int) -> list[int]:
        """Store ``new`` in order and return their seqs."""
        if not new:
            return []
        last = await _advance(conn, "events", len(new))
        seqs = list(range(last - len(new) + 1, last + 1))
        await conn.execute(
            insert(events),
            [
                {
                    "seq": seq,
                    "type": event.type,
                    "thread_id": event.thread_id,
                    "user_id": event.user_id,
                    "message_id": event.message_id,
                    "data": event.data,
                    "created_at": now,
                }
                for seq, event in zip(seqs, new, strict=True)
            ],
        )
        return seqs

    @staticmethod
    async def lock_head(conn: AsyncConnection) -> None:
        """Take the stream's head for this transaction, first thing. Every
        write transaction that appends events takes it anyway, at its end;
        taking it first orders the writers of several nodes before they lock
        anything else (threads, agendas), so they queue instead of deadlocking.
        (On SQLite a write transaction already holds the whole database.)"""
        await conn.execute(
            select(positions.c.value).where(positions.c.name == "events").with_for_update()
        )

    @staticmethod
    async def head_in(conn: AsyncConnection) -> int:
        """The newest seq handed out, as ``conn`` sees it (before the events
        its own transaction has yet to append: ``server.writer.Emitted``)."""
        value = await conn.scalar(select(positions.c.value).where(positions.c.name == "events"))
        return int(value or 0)

    async def head(self) -> int:
        """The newest committed seq."""
        return await self._position("events")

    async def floor(self) -> int:
        """Events at or below this seq have been pruned."""
        return await self._position("events_floor")

    async def _position(self, name: str) -> int:
        async with self.db.read() as conn:
            value = await conn.scalar(select(positions.c.value).where(positions.c.name == name))
        assert value is not None
        return int(value)

    async def after(
        self, user_id: int, cursor: int, limit: int, now: int, device_id: int | None = None
    ) -> list[StoredEvent]:
        """The user's events with seq > ``cursor``, oldest first, except the
        messages ``device_id`` sent itself (it has them): those of the
        threads whose membership window covers them, those addressed to them,
        and, from a delegation's start, the threads' events of each
        practitioner they read for (``delegations``)."""
        newer = events.c.seq > cursor
        in_threads = (
            select(events.c.seq)
            .join(participants, participants.c.thread_id == events.c.thread_id)
            .where(participants.c.user_id == user_id, _in_window, newer)
        )
        personal = select(events.c.seq).where(events.c.user_id == user_id, newer)
        reading = and_(
            delegations.c.delegate_id == user_id,
            delegations.c.reads.is_(True),
            delegations.c.expires.is_(None) | (delegations.c.expires > now),
            events.c.seq > delegations.c.granted_seq,
            newer,
        )
        in_their_threads = (
            select(events.c.seq)
            .join(participants, participants.c.thread_id == events.c.thread_id)
            .join(delegations, delegations.c.principal_id == participants.c.user_id)
            .where(reading, _in_window)
        )
        # union, not union_all: a delegate may also be a member, or read for two members
        wanted = union(in_threads, personal, in_their_threads).subquery()
        query = (
            select(events.c.seq, events.c.type, events.c.data, *MESSAGE_COLUMNS)
            .join(wanted, wanted.c.seq == events.c.seq)
            .outerjoin(messages, messages.c.id == events.c.message_id)
            .order_by(events.c.seq)
            .limit(limit)
        )
        if device_id is not None:
            query = query.where(
                messages.c.sender_device_id.is_(None) | (messages.c.sender_device_id != device_id)
            )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            StoredEvent(
                row.seq,
                row.type,
                row.data,
                from_row(row[3:]) if row.id is not None else None,
            )
            for row in rows
        ]

    async def prune(self, created_before: int) -> int:
        """Drop events older than ``created_before`` and raise the floor.
        Returns how many were dropped."""
        async with self.db.write() as conn:
            top = await conn.scalar(
                select(events.c.seq)
                .where(events.c.created_at < created_before)
                .order_by(events.c.seq.desc())
                .limit(1)
            )
            if top is None:
                return 0
            result = await conn.execute(delete(events).where(events.c.seq <= top))
            await conn.execute(
                update(positions).where(positions.c.name == "events_floor").values(value=top)
            )
            return result.rowcount
