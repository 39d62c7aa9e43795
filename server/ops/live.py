"""Ephemeral events (typing, popups): pushed to whoever is connected now,
never stored; the one way an operation tells people something that a
reconnect need not replay. Durable events go through the writer instead
(``Outgoing``), stored before they are pushed."""

from __future__ import annotations

from typing import Any

from protocol.codec import encode_event, to_raw
from server.broker.base import Delivery
from server.context import Services

__all__ = ["tell"]


async def tell(
    ctx: Services,
    event: str,
    data: Any,
    recipients: list[int],
    *,
    thread: int | None = None,
    exclude_session: str | None = None,
    foreground_only: bool = False,
    after: int | None = None,
) -> None:
    """Push ``event`` to ``recipients``' open sockets on every node (and to
    whoever reads ``thread`` for them); ``after``: not before the durable
    event of that seq (a popup follows its message)."""
    frame = encode_event(event, to_raw(data))
    await ctx.broker.publish(
        Delivery(
            recipients,
            frame,
            exclude_session=exclude_session,
            foreground_only=foreground_only,
            thread=thread,
            after=after,
        )
    )
