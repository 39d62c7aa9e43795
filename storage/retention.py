"""The chat copies' retention: messages sent before a cutoff are emptied
(their place, sender and time stay, as a retraction's do) and the
documents of their time deleted, thread by thread, each thread's trail
saying so (``expired``). A thread a records device files is emptied only
as far as it was filed: nothing leaves the chat before it reached the
record (``docs/accounts.md``, "Retention").
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.audit import FILED, AuditTx
from storage.db import Database
from storage.schema import audit, files, messages

__all__ = ["EXPIRED", "Expired", "Retention"]

EXPIRED = "expired"  # the trail's line
# How long before its message a document may have been uploaded: the SDKs
# upload and send at once; an upload left unfinished longer is swept anyway.
UPLOAD_SLACK_MS = 24 * 3600 * 1000


@dataclass(slots=True)
class Expired:
    """What one thread lost in a round."""

    ids: list[int] = field(default_factory=list)
    messages: int = 0
    through: int = 0  # the last seq emptied
    last_sent_at: int = 0
    documents: list[str] = field(default_factory=list)  # file ids, their blobs to delete


Candidate = tuple[int, int, int, int]  # a message's id, thread, seq, sent_at


class Retention:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def filed(self) -> dict[int, int]:
        """How far each filed thread was filed (``ix_audit_filed``)."""
        query = (
            select(audit.c.thread_id, func.max(audit.c.seq))
            .where(audit.c.action == FILED)
            .group_by(audit.c.thread_id)
        )
        async with self.db.read() as conn:
            return {thread: through for thread, through in await conn.execute(query)}

    async def expire(
        self, cutoff: int, now: int, filed: dict[int, int], after_id: int, limit: int
    ) -> tuple[dict[int, Expired], int | None]:
        """Empty the messages past ``after_id`` sent before ``cutoff`` (up to
        ``limit`` examined, by id), and delete each thread's documents of
        their time; what each thread lost, and the id to go on after (None:
        no more). The candidates are found in a read; only the change holds
        the write lock."""
        query = (
            select(messages.c.id, messages.c.thread_id, messages.c.seq, messages.c.sent_at)
            .where(
                messages.c.id > after_id,
                messages.c.sent_at < cutoff,
                messages.c.expired_at.is_(None),
                messages.c.retracted_at.is_(None),
            )
            .order_by(messages.c.id)
            .limit(limit)
        )
        async with self.db.read() as conn:
            rows = [(r.id, r.thread_id, r.seq, r.sent_at) for r in await conn.execute(query)]
        lost = _lost(rows, filed)
        if lost:
            async with self.db.write() as conn:
                await _empty(conn, lost, now)
        return lost, (rows[-1][0] if len(rows) == limit else None)


def _lost(rows: list[Candidate], filed: dict[int, int]) -> dict[int, Expired]:
    """What each thread loses of ``rows``: not what is not in the record yet."""
    lost: dict[int, Expired] = defaultdict(Expired)
    for message, thread, seq, sent_at in rows:
        if thread in filed and seq > filed[thread]:
            continue  # it stays until it is filed
        expired = lost[thread]
        expired.ids.append(message)
        expired.through = max(expired.through, seq)
        expired.last_sent_at = max(expired.last_sent_at, sent_at)
    return dict(lost)


async def _empty(conn: AsyncConnection, lost: dict[int, Expired], now: int) -> None:
    trail = AuditTx(conn)
    for thread, expired in lost.items():
        emptied = await conn.execute(
            update(messages)
            .where(
                messages.c.id.in_(expired.ids),
                messages.c.expired_at.is_(None),  # a retraction or another node came first
                messages.c.retracted_at.is_(None),
            )
            .values(envelope=b"", expired_at=now)
        )
        expired.messages = emptied.rowcount
        expired.documents = await _documents(conn, thread, expired.last_sent_at)
        detail = f"{expired.messages} msg, {len(expired.documents)} doc"
        trail.record(thread, now, EXPIRED, seq=expired.through, detail=detail)
    await trail.flush()


async def _documents(conn: AsyncConnection, thread: int, until: int) -> list[str]:
    """Delete the thread's finished documents uploaded up to ``until`` and
    before any message it keeps was sent (a document is uploaded, then sent:
    one for a kept message is never older than that message); their ids."""
    kept = await conn.scalar(
        select(func.min(messages.c.sent_at)).where(
            messages.c.thread_id == thread,
            messages.c.expired_at.is_(None),
            messages.c.retracted_at.is_(None),
        )
    )
    which = (
        (files.c.thread_id == thread)
        & (files.c.finished_at.is_not(None))
        & (files.c.created_at <= until)
    )
    if kept is not None:
        which &= files.c.created_at < kept - UPLOAD_SLACK_MS
    found = list((await conn.scalars(select(files.c.id).where(which))).all())
    if found:
        await conn.execute(delete(files).where(files.c.id.in_(found)))
    return found
