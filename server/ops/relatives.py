"""A relative's profile given up (``relatives.withdraw``): the manager's
consent is withdrawn, they leave every thread for the relative and the
appointments they booked for them are cancelled, in one transaction. The
practitioners stay, so the threads and their messages remain in the care
record; the former manager gets nothing newer and may no longer read them
(``messages.history`` is for members)."""

from __future__ import annotations

import contextlib

from protocol.practice import RefusalReason
from server.errors import ServerError
from server.ops.booking import CancelPlan, store_cancel
from server.ops.members import MemberChange, store_removed
from server.policy import Refusal
from server.writer import Emitted
from storage.tx import WriteTx

__all__ = ["store_withdrawal"]


async def store_withdrawal(
    manager: int, relative: int, releases: list[CancelPlan], now: int, tx: WriteTx, out: Emitted
) -> None:
    """``releases``: the appointments still to come that the manager booked
    for the relative (``plan_releases``), cancelled here unless they changed
    meanwhile (a hold that expired, a cancellation that came first)."""
    if not await tx.relatives.withdraw(manager, relative, now):
        raise Refusal(RefusalReason.NOT_MANAGED, "you do not manage this relative").error()
    for thread in await tx.threads.about(relative, manager):
        await store_removed(MemberChange(thread, manager, manager, now), tx, out)
    for release in releases:
        with contextlib.suppress(ServerError):  # refused before it wrote: nothing to cancel
            await store_cancel(release, tx, out)
    detail = f"relative {relative}"
    await tx.account_audit.record(manager, now, "relative_withdrawn", actor=manager, detail=detail)
