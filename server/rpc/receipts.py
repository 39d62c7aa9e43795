"""receipts.delivered, receipts.read: move the caller's receipts forward."""

from __future__ import annotations

from protocol.methods import Empty, ReceiptParams
from server.connection import Connection
from server.context import Context
from server.errors import invalid
from server.ops.access import members_of
from server.ops.receipts import receipt_event
from server.writer import Outgoing
from storage.threads import Receipt
from storage.tx import WriteTx

__all__ = ["delivered", "read"]


async def delivered(ctx: Context, conn: Connection, p: ReceiptParams) -> Empty:
    return await _advance(ctx, conn, p, read=False)


async def read(ctx: Context, conn: Connection, p: ReceiptParams) -> Empty:
    return await _advance(ctx, conn, p, read=True)


async def _advance(ctx: Context, conn: Connection, p: ReceiptParams, *, read: bool) -> Empty:
    members = await members_of(ctx, conn, p.thread)
    wanted = Receipt(p.thread_seq, p.thread_seq if read else 0)
    floor = ctx.directory.receipt_floor(p.thread, conn.user_id)
    if floor.delivered_seq >= wanted.delivered_seq and floor.read_seq >= wanted.read_seq:
        return Empty()  # already stored: nothing to write, nobody to tell
    recipients = sorted(members)

    async def store(tx: WriteTx, out: list[Outgoing]) -> Receipt:
        receipt = await tx.threads.advance_receipt(
            p.thread, conn.user_id, delivered_seq=wanted.delivered_seq, read_seq=wanted.read_seq
        )
        if receipt is None:  # nothing written: already there, or out of range
            last_seq = await tx.threads.last_seq(p.thread)
            if last_seq is None or p.thread_seq > last_seq:
                raise invalid("seq is beyond the thread's last message", last_seq=last_seq)
            return wanted
        if read:
            now = ctx.clock.ms()
            await tx.audit.record(p.thread, now, "read", actor=conn.user_id, seq=receipt.read_seq)
        out.append(receipt_event(p.thread, conn.user_id, receipt, recipients))
        return receipt

    ctx.directory.raise_receipt_floor(p.thread, conn.user_id, await ctx.writer.run(store, p.thread))
    return Empty()
