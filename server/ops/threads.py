"""Threads as operations share them: creating one, closing or reopening
it with its notice, and telling its members that it changed."""

from __future__ import annotations

from protocol.codec import to_raw
from protocol.model import ThreadInfo, ThreadKind
from protocol.practice import Notice, NoticeKind
from server.broker.control import ThreadChanged
from server.convert import thread_info
from server.notices import post_notice
from server.writer import Outgoing
from storage.threads import ThreadRecord
from storage.tx import WriteTx

__all__ = ["create_thread", "emit_thread", "set_closed", "shared_info"]


async def create_thread(
    tx: WriteTx,
    out: list[Outgoing],
    kind: ThreadKind,
    opener: int,
    members: list[int],
    now: int,
    *,
    key: str | None = None,
    reason: str | None = None,
    subject: int | None = None,
    practitioner: int | None = None,
    reply_allowed: bool = True,
) -> int:
    """Store a thread and tell its members; a thread with a ``practitioner``
    (patient-practitioner) starts with the emergency notice."""
    thread_id = await tx.threads.create(
        kind.value,
        opener,
        members,
        now,
        key,
        reason=reason,
        subject_id=subject,
        reply_allowed=reply_allowed,
    )
    await tx.audit.record(thread_id, now, "opened", actor=opener, detail=reason or "")
    await emit_thread(tx, out, thread_id, opener, members)
    if practitioner is not None:
        await post_notice(
            tx,
            out,
            thread_id=thread_id,
            author=practitioner,
            notice=Notice(NoticeKind.EMERGENCY),
            recipients=members,
            now=now,
        )
    return thread_id


async def set_closed(
    tx: WriteTx,
    out: list[Outgoing],
    thread_id: int,
    by: int,
    *,
    closing: bool,
    now: int,
    acting_for: int | None = None,
) -> None:
    """Close or reopen the thread, with a notice and a ``thread.updated``;
    ``by`` may be a delegate ``acting_for`` a practitioner. Closing a closed
    thread (or reopening an open one) changes nothing."""
    state = await tx.threads.state(thread_id)
    if (state.closed_at is not None) is closing:
        return
    await tx.threads.set_closed(thread_id, now if closing else None, by if closing else None)
    recipients = sorted((await tx.threads.read_seqs(thread_id)).keys())
    kind = NoticeKind.CLOSED if closing else NoticeKind.REOPENED
    await post_notice(
        tx,
        out,
        thread_id=thread_id,
        author=by,
        notice=Notice(kind, by=by, acting_for=acting_for),
        recipients=recipients,
        now=now,
    )
    await emit_thread(tx, out, thread_id, recipients[0], recipients)  # ``by`` may be a delegate


def shared_info(record: ThreadRecord) -> ThreadInfo:
    """The thread as every member may be told of it: receipts and muting
    left out, they are each member's own."""
    info = thread_info(record)
    info.read_seq = info.delivered_seq = info.unread = 0
    info.muted = False
    return info


async def emit_thread(
    tx: WriteTx, out: list[Outgoing], thread_id: int, viewer: int, recipients: list[int]
) -> ThreadInfo:
    """A ``thread.updated`` with the thread as it now is (``shared_info``),
    read as the current member ``viewer``."""
    record = await tx.threads.record(thread_id, viewer)
    assert record is not None
    info = shared_info(record)
    out.append(
        Outgoing(
            "thread.updated",
            to_raw(info),
            recipients,
            thread_id,
            control=ThreadChanged(thread_id, recipients),
        )
    )
    return info
