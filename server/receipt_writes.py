"""Receipts being stored, shared by the devices that send them at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from storage.threads import Receipt

__all__ = ["ReceiptWrites"]


def _covers(stored: Receipt, wanted: Receipt) -> bool:
    return stored.delivered_seq >= wanted.delivered_seq and stored.read_seq >= wanted.read_seq


class ReceiptWrites:
    """The receipts this node is storing, by thread and user. A user's
    devices acknowledge the same message at about the same moment: a
    receipt that one already being stored covers waits for that one's
    commit instead of writing again, and is answered after it (so its
    answer still means stored). If that write fails, it writes its own."""

    def __init__(self) -> None:
        # (thread, user) -> what is being stored, and its outcome (None: it failed)
        self._pending: dict[tuple[int, int], tuple[Receipt, asyncio.Future[Receipt | None]]] = {}

    async def store(
        self, thread: int, user: int, wanted: Receipt, write: Callable[[], Awaitable[Receipt]]
    ) -> Receipt:
        """``write()``'s receipt, or the one a write already under way stores."""
        key = (thread, user)
        pending = self._pending.get(key)
        if pending is not None and _covers(pending[0], wanted):
            stored = await asyncio.shield(pending[1])
            if stored is not None:
                return stored
        outcome: asyncio.Future[Receipt | None] = asyncio.get_running_loop().create_future()
        entry = (wanted, outcome)
        self._pending[key] = entry
        try:
            receipt = await write()
        except BaseException:
            outcome.set_result(None)  # failed or cancelled: the waiters write their own
            raise
        finally:
            if self._pending.get(key) is entry:
                del self._pending[key]
        outcome.set_result(receipt)
        return receipt
