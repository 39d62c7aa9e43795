"""Messages: one row per message, numbered within their thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.schema import messages, participants, threads

__all__ = ["Messages", "StoredMessage"]


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: int
    thread_id: int
    seq: int
    sender_id: int
    sender_device_id: int | None  # None: a notice the server wrote
    client_msg_id: str
    kind: str
    reason: str | None
    reply_allowed: bool
    envelope: bytes
    sent_at: int
    retracted_at: int | None = None


COLUMNS = (
    messages.c.id,
    messages.c.thread_id,
    messages.c.seq,
    messages.c.sender_id,
    messages.c.sender_device_id,
    messages.c.client_msg_id,
    messages.c.kind,
    messages.c.reason,
    messages.c.reply_allowed,
    messages.c.envelope,
    messages.c.sent_at,
    messages.c.retracted_at,
)


def from_row(row: Row[Any] | tuple[Any, ...]) -> StoredMessage:
    return StoredMessage(*row[: len(COLUMNS)])


# Built once (see storage.threads): the statements of every send.
_BY_CLIENT_ID = select(*COLUMNS).where(
    messages.c.sender_device_id == bindparam("device_id"),
    messages.c.client_msg_id == bindparam("client_msg_id"),
)
_NEXT_SEQ = (
    update(threads)
    .where(threads.c.id == bindparam("thread_id"))
    .values(last_seq=threads.c.last_seq + 1)
    .returning(threads.c.last_seq)
)
_INSERT = insert(messages).returning(messages.c.id)
_SENT_TO = (
    select(messages.c.id)
    .join(
        participants,
        and_(
            participants.c.thread_id == messages.c.thread_id,
            participants.c.user_id == bindparam("recipient"),
        ),
    )
    .where(
        messages.c.sender_id == bindparam("sender"),
        messages.c.sent_at >= bindparam("since"),
        messages.c.sender_device_id.is_not(None),
    )
    .limit(bindparam("cap"))
)
_COUNT_SENT_TO = select(func.count()).select_from(_SENT_TO.subquery())


class Messages:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def unread(self, thread_id: int, after_seq: int) -> int:
        """Messages people wrote in the thread after ``after_seq`` (a notice,
        written by the server, has no sending device and is not counted)."""
        query = select(func.count()).where(
            messages.c.thread_id == thread_id,
            messages.c.seq > after_seq,
            messages.c.sender_device_id.is_not(None),
        )
        async with self.db.read() as conn:
            return int(await conn.scalar(query) or 0)

    async def sent(self, device_id: int, client_msg_id: str) -> StoredMessage | None:
        """The message ``device_id`` already stored under ``client_msg_id``, if any."""
        async with self.db.read() as conn:
            return await MessageTx(conn).by_client_id(device_id, client_msg_id)

    async def history(
        self, thread_id: int, before_seq: int | None, limit: int
    ) -> tuple[list[StoredMessage], bool]:
        """Up to ``limit`` messages older than ``before_seq``, newest first, and
        whether older ones remain."""
        query = select(*COLUMNS).where(messages.c.thread_id == thread_id)
        if before_seq is not None:
            query = query.where(messages.c.seq < before_seq)
        query = query.order_by(messages.c.seq.desc()).limit(limit + 1)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [from_row(row) for row in rows[:limit]], len(rows) > limit


class MessageTx:
    """Messages inside one write transaction (``WriteTx.messages``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def by_client_id(self, device_id: int, client_msg_id: str) -> StoredMessage | None:
        params = {"device_id": device_id, "client_msg_id": client_msg_id}
        row = (await self.conn.execute(_BY_CLIENT_ID, params)).first()
        return None if row is None else from_row(row)

    async def append(
        self,
        *,
        thread_id: int,
        sender_id: int,
        sender_device_id: int | None,
        client_msg_id: str,
        kind: str,
        reason: str | None,
        reply_allowed: bool,
        envelope: bytes,
        now: int,
    ) -> StoredMessage:
        """Number the message within its thread and store it. The thread row
        stays locked until commit, so thread seqs are gap-free and ordered."""
        seq = await self.conn.scalar(_NEXT_SEQ, {"thread_id": thread_id})
        assert seq is not None
        message_id = await self.conn.scalar(
            _INSERT,
            {
                "thread_id": thread_id,
                "seq": seq,
                "sender_id": sender_id,
                "sender_device_id": sender_device_id,
                "client_msg_id": client_msg_id,
                "kind": kind,
                "reason": reason,
                "reply_allowed": reply_allowed,
                "envelope": envelope,
                "sent_at": now,
            },
        )
        assert message_id is not None
        return StoredMessage(
            message_id,
            thread_id,
            seq,
            sender_id,
            sender_device_id,
            client_msg_id,
            kind,
            reason,
            reply_allowed,
            envelope,
            now,
        )

    async def count_sent(self, sender: int, recipient: int, since: int, cap: int) -> int:
        """Messages ``sender`` wrote since ``since`` in threads ``recipient`` is
        in, counted up to ``cap`` (a limit's check reads no more rows than that)."""
        params = {"sender": sender, "recipient": recipient, "since": since, "cap": cap}
        return int(await self.conn.scalar(_COUNT_SENT_TO, params) or 0)

    async def for_retraction(self, message_id: int) -> StoredMessage | None:
        row = (await self.conn.execute(select(*COLUMNS).where(messages.c.id == message_id))).first()
        return None if row is None else from_row(row)

    async def retract(self, message_id: int, now: int) -> None:
        """Empty the message's envelope; its place, sender and time stay."""
        await self.conn.execute(
            update(messages)
            .where(messages.c.id == message_id)
            .values(envelope=b"", retracted_at=now)
        )
