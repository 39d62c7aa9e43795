"""receipts.delivered, receipts.read: move the caller's receipts forward."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from protocol.codec import to_raw
from protocol.events import ReceiptUpdated
from protocol.methods import Empty, ReceiptParams
from server.connection import Connection
from server.context import Context
from server.errors import invalid
from server.rpc.base import members_of
from server.writer import Outgoing
from storage.threads import Threads

__all__ = ["delivered", "read"]


async def delivered(ctx: Context, conn: Connection, p: ReceiptParams) -> Empty:
    return await _advance(ctx, conn, p, read=False)


async def read(ctx: Context, conn: Connection, p: ReceiptParams) -> Empty:
    return await _advance(ctx, conn, p, read=True)


async def _advance(ctx: Context, conn: Connection, p: ReceiptParams, *, read: bool) -> Empty:
    recipients = sorted(await members_of(ctx, conn, p.thread))

    async def store(db: AsyncConnection, out: list[Outgoing]) -> None:
        last_seq = await Threads.last_seq(db, p.thread)
        if last_seq is None or p.seq > last_seq:
            raise invalid("seq is beyond the thread's last message", last_seq=last_seq)
        receipt = await Threads.advance_receipt(
            db, p.thread, conn.user_id, delivered_seq=p.seq, read_seq=p.seq if read else 0
        )
        if receipt is not None:
            data = ReceiptUpdated(p.thread, conn.user_id, receipt.delivered_seq, receipt.read_seq)
            out.append(Outgoing("receipt", to_raw(data), recipients, thread_id=p.thread))

    await ctx.writer.run(store)
    return Empty()
