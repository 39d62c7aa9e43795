"""A transaction cancelled in its BEGIN, before asyncpg's caller is back:
asyncpg then keeps it as begun on its connection (``storage.hot._begun``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from asyncpg.transaction import Transaction

__all__ = ["cancel_in_begin"]


async def cancel_in_begin(work: Coroutine[Any, Any, Any]) -> None:
    """Run ``work`` until its transaction's BEGIN is answered, then cancel
    it before asyncpg's caller is back (as a caller that goes away would)."""
    sent, forever = asyncio.Event(), asyncio.Event()
    start = Transaction.start

    async def begin_then_stall(self: Transaction) -> None:
        await start(self)
        sent.set()
        await forever.wait()

    Transaction.start = begin_then_stall  # type: ignore[method-assign]
    try:
        task = asyncio.create_task(work)
        sending = asyncio.create_task(sent.wait())
        await asyncio.wait((task, sending), return_when=asyncio.FIRST_COMPLETED)
        sending.cancel()
        assert not task.done(), f"the work ended before its BEGIN: {task}"
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert task.cancelled()
    finally:
        Transaction.start = start  # type: ignore[method-assign]
