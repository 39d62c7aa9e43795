"""Receipts: how far a member has received and read a thread, and moving
the caller's forward (planned, then stored)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from protocol.codec import to_raw
from protocol.events import ReceiptUpdated
from protocol.methods import ReceiptParams
from server.connection import Connection
from server.context import Services
from server.errors import ServerError, invalid
from server.ops.access import members_of
from server.receipt_writes import Take, WriteAll
from server.writer import LAST, Outgoing, Writer
from storage.threads import Receipt, ReceiptMove
from storage.tx import WriteTx

__all__ = ["ReceiptPlan", "plan_receipt", "receipt_event", "store_receipts", "write_receipts"]


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


async def store_receipts(
    plans: Sequence[ReceiptPlan], tx: WriteTx, out: list[Outgoing]
) -> list[Receipt | ServerError | None]:
    """Each plan's receipts as they now are (its ``wanted`` if they were
    there already), its refusal (a seq past the thread's last message), or
    None: another transaction holds the member's row, write it again. One
    statement for them all (``ThreadTx.advance_receipts``), one plan per
    member and thread."""
    moves = await tx.threads.advance_receipts([(p.thread, p.user, p.wanted) for p in plans])
    return [_stored(plan, move, tx, out) for plan, move in zip(plans, moves, strict=True)]


def _stored(
    plan: ReceiptPlan, move: ReceiptMove, tx: WriteTx, out: list[Outgoing]
) -> Receipt | ServerError | None:
    if move.busy:
        return None
    if move.moved is None:
        last_seq = move.last_seq
        if last_seq is None or plan.wanted.delivered_seq > last_seq:
            return invalid("seq is beyond the thread's last message", last_seq=last_seq)
        return plan.wanted
    if plan.read:
        tx.audit.record(plan.thread, plan.now, "read", actor=plan.user, seq=move.moved.read_seq)
    out.append(receipt_event(plan.thread, plan.user, move.moved, plan.recipients))
    return move.moved


def write_receipts(writer: Writer, within: float) -> WriteAll[ReceiptPlan]:
    """How a node's ``ReceiptWrites`` stores what waits: one operation of
    the writer, which takes the plans when it runs (those arriving until
    then join it). It waits up to ``within`` seconds for another write (a
    send) to share its transaction: under a steady load it costs no commit
    of its own, and a receipt's tick shows a little later
    (``benchmarks/README.md``, issue 22, twenty-second session). It sorts
    last in its batch (``LAST``): receipts confirm messages already stored,
    so they may go after the batch's other writes, and their statement
    waits for no row lock, so the writers of several nodes, each locking
    threads in order, still cannot deadlock."""

    async def write(take: Take[ReceiptPlan]) -> list[Receipt | ServerError | None]:
        return await writer.run(
            lambda tx, out: store_receipts(take(), tx, out), thread=LAST, within=within
        )

    return write


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
