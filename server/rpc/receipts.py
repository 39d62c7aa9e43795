"""receipts.delivered, receipts.read: move the caller's receipts forward."""

from __future__ import annotations

from protocol.methods import Empty, ReceiptParams
from server.connection import Connection
from server.context import Services
from server.ops.receipts import plan_receipt

__all__ = ["delivered", "read"]


async def delivered(ctx: Services, conn: Connection, p: ReceiptParams) -> Empty:
    return await _advance(ctx, conn, p, read=False)


async def read(ctx: Services, conn: Connection, p: ReceiptParams) -> Empty:
    return await _advance(ctx, conn, p, read=True)


async def _advance(ctx: Services, conn: Connection, p: ReceiptParams, *, read: bool) -> Empty:
    plan = await plan_receipt(ctx, conn, p, read=read)
    if plan is not None:
        receipt = await ctx.receipt_writes.store(plan)
        ctx.directory.raise_receipt_floor(p.thread, conn.user_id, receipt)
    return Empty()
