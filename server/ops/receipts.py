"""Receipts: how far a member has received and read a thread."""

from __future__ import annotations

from protocol.codec import to_raw
from protocol.events import ReceiptUpdated
from server.writer import Outgoing
from storage.threads import Receipt

__all__ = ["receipt_event"]


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
