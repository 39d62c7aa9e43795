"""An account deleted by its owner (``account.delete``): in one
transaction, their appointments still to come are cancelled, they leave
every thread (the others keep it, and are told), their practices, and so
their delegations, and the relatives' profiles they managed; then what was
theirs alone goes and a tombstone stays (``storage.erasure``). Their
sockets close on every node once it is committed.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from server.broker.control import AccessChanged, Control, PracticeChanged
from server.context import Services
from server.errors import ServerError, not_found
from server.ops.booking import CancelPlan, plan_releases, store_cancel
from server.ops.members import MemberChange, store_removed
from server.ops.practice import store_removal
from server.writer import Emitted
from storage.tx import WriteTx

__all__ = ["DELETION_REASON", "Deletion", "Erased", "plan_deletion", "store_deletion"]

DELETION_REASON = "account deleted"  # why their appointments were cancelled


@dataclass(frozen=True, slots=True)
class Deletion:
    user: int
    # Appointments to cancel, as read before the transaction (their
    # audiences need the directory); what was booked meanwhile is released
    # once it committed (``booking.release_rest``).
    releases: list[CancelPlan]
    now: int


async def plan_deletion(ctx: Services, user: int) -> Deletion:
    releases = await plan_releases(ctx, user, DELETION_REASON)
    return Deletion(user, releases, ctx.clock.ms())


@dataclass(frozen=True, slots=True)
class Erased:
    ended: list[bytes]  # the sessions' token hashes: their sockets close
    # What the nodes must forget: the practitioner they cached, and what
    # the events nobody will read would have told them.
    controls: list[Control]


async def store_deletion(plan: Deletion, tx: WriteTx, out: Emitted) -> Erased:
    user, now = plan.user, plan.now
    for release in plan.releases:
        with contextlib.suppress(ServerError):  # it changed meanwhile: nothing to cancel
            await store_cancel(release, tx, out)
    for thread in await tx.threads.of_member(user):
        await store_removed(MemberChange(thread, user, user, now), tx, out)
    for relative in await tx.relatives.managed(user):
        await tx.relatives.withdraw(user, relative, now)
    for practice in await tx.practices.of_member(user):
        await store_removal(practice, user, tx, out)
    ended = await tx.erasure.erase(user, now)
    if ended is None:
        raise not_found("no such account", user=user)
    # What it would have told them (they left, it was cancelled) has nobody
    # left to read it: not stored in a stream that was just erased.
    unread = [event for event in out if event.user_id == user]
    out[:] = [event for event in out if event.user_id != user]
    controls = [event.control for event in unread if event.control is not None]
    return Erased(ended, [*controls, PracticeChanged(user), AccessChanged(user)])
