"""Receipts: how far a member has received and read a thread, and moving
the caller's forward (planned, then stored)."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.codec import to_raw
from protocol.events import ReceiptUpdated
from protocol.methods import ReceiptParams
from server.connection import Connection
from server.context import Services
from server.errors import invalid
from server.ops.access import members_of
from server.writer import Outgoing
from storage.threads import Receipt
from storage.tx import WriteTx

__all__ = ["ReceiptPlan", "plan_receipt", "receipt_event", "store_receipt"]


@dataclass(frozen=True, slots=True)
class ReceiptPlan:
    """``user``'s receipts in ``thread`` to move up to ``wanted``; the
    members are told."""

    thread: int
    user: int
    wanted: Receipt
    read: bool  # a read is also a line of the audit trail
    recipients: list[int]
    now: int


async def plan_receipt(
    ctx: Services, conn: Connection, p: ReceiptParams, *, read: bool
) -> ReceiptPlan | None:
    """None if the receipts are known to be there already."""
    members = await members_of(ctx, conn, p.thread)
    wanted = Receipt(p.thread_seq, p.thread_seq if read else 0)
    floor = ctx.directory.receipt_floor(p.thread, conn.user_id)
    if floor.delivered_seq >= wanted.delivered_seq and floor.read_seq >= wanted.read_seq:
        return None  # already stored: nothing to write, nobody to tell
    return ReceiptPlan(p.thread, conn.user_id, wanted, read, sorted(members), ctx.clock.ms())


async def store_receipt(plan: ReceiptPlan, tx: WriteTx, out: list[Outgoing]) -> Receipt:
    """The receipts as they now are (``wanted`` if they were already there)."""
    thread, user, wanted = plan.thread, plan.user, plan.wanted
    receipt = await tx.threads.advance_receipt(
        thread, user, delivered_seq=wanted.delivered_seq, read_seq=wanted.read_seq
    )
    if receipt is None:  # nothing written: already there, or out of range
        last_seq = await tx.threads.last_seq(thread)
        if last_seq is None or wanted.delivered_seq > last_seq:
            raise invalid("seq is beyond the thread's last message", last_seq=last_seq)
        return wanted
    if plan.read:
        tx.audit.record(thread, plan.now, "read", actor=user, seq=receipt.read_seq)
    out.append(receipt_event(thread, user, receipt, plan.recipients))
    return receipt


def receipt_event(
    thread_id: int,
    user_id: int,
    receipt: Receipt,
    recipients: list[int],
    exclude_session: str | None = None,
) -> Outgoing:
    """A ``receipt``: ``user_id``'s receipts in the thread moved to ``receipt``."""
    data = ReceiptUpdated(thread_id, user_id, receipt.delivered_seq, receipt.read_seq)
    return Outgoing(
        "receipt", to_raw(data), recipients, thread_id=thread_id, exclude_session=exclude_session
    )
