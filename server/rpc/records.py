"""records.filed, records.filings: a records device tells the thread's
audit trail what it filed into the patient's record, and finds where it
stopped (``docs/records.md``).

Only whoever may read the trail files: the thread's practitioners and
their delegates with the ``read`` scope. The server checks the position,
not the filing itself, which it cannot read.
"""

from __future__ import annotations

from functools import partial

from protocol.model import Empty
from protocol.records import FiledParams, Filing, FilingsParams, FilingsResult
from server.connection import Connection
from server.context import Services
from server.errors import invalid
from server.ops.audit import require_trail_reader
from server.writer import Outgoing
from storage.audit import FILED
from storage.tx import WriteTx

__all__ = ["filed", "filings"]


async def filed(ctx: Services, conn: Connection, p: FiledParams) -> Empty:
    acting_for = await require_trail_reader(ctx, conn.user_id, conn.grants, p.thread)
    filing = partial(_store_filing, conn.user_id, acting_for, p, ctx.clock.ms())
    await ctx.writer.run(filing)
    return Empty()


async def _store_filing(
    user: int, acting_for: int | None, p: FiledParams, now: int, tx: WriteTx, _: list[Outgoing]
) -> None:
    last = await tx.threads.last_seq(p.thread) or 0
    if p.through > last:
        raise invalid("the thread has no message this far", last_seq=last)
    detail = f"{p.messages} msg, {p.documents} doc → {p.target}, sha256:{p.digest.hex()[:16]}"
    tx.audit.record(
        p.thread, now, FILED, actor=user, acting_for=acting_for, seq=p.through, detail=detail
    )


async def filings(ctx: Services, conn: Connection, p: FilingsParams) -> FilingsResult:
    """How far the caller filed each thread (a device that lost its own
    notes starts from here, not from the beginning)."""
    rows = await ctx.store.audit.filings(conn.user_id, p.after, p.limit + 1)
    shown = [Filing(thread, through, at) for thread, through, at in rows[: p.limit]]
    return FilingsResult(shown, has_more=len(rows) > p.limit)
