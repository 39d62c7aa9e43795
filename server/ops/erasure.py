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

from server.context import Services
from server.errors import ServerError, not_found
from server.ops.booking import CancelPlan, plan_releases, store_cancel
from server.ops.members import MemberChange, store_removed
from server.ops.practice import store_removal
from server.writer import Emitted
from storage.tx import WriteTx

__all__ = ["Deletion", "plan_deletion", "store_deletion"]

DELETED = "account deleted"  # why their appointments were cancelled


@dataclass(frozen=True, slots=True)
class Deletion:
    user: int
    practices: list[int]  # those they belong to or are invited into
    relatives: list[int]  # whose profiles they manage
    releases: list[CancelPlan]
    now: int


async def plan_deletion(ctx: Services, user: int) -> Deletion:
    store = ctx.store
    practices = {p.id for p in await store.practices.of_user(user)}
    practices |= {i.practice_id for i in await store.practices.invitations(user)}
    relatives = [r.user_id for r in await store.relatives.of(user)]
    releases = await plan_releases(ctx, user, DELETED)
    return Deletion(user, sorted(practices), relatives, releases, ctx.clock.ms())


async def store_deletion(plan: Deletion, tx: WriteTx, out: Emitted) -> list[bytes]:
    """The deletion; the ended sessions' token hashes."""
    user, now = plan.user, plan.now
    for release in plan.releases:
        with contextlib.suppress(ServerError):  # it changed meanwhile: nothing to cancel
            await store_cancel(release, tx, out)
    for thread in await tx.threads.of_member(user):
        await store_removed(MemberChange(thread, user, user, now), tx, out)
    for relative in plan.relatives:
        await tx.relatives.withdraw(user, relative, now)
    for practice in plan.practices:
        with contextlib.suppress(ServerError):  # left meanwhile
            await store_removal(practice, user, tx, out)
    ended = await tx.erasure.erase(user, now)
    if ended is None:
        raise not_found("no such account", user=user)
    # What it would have told them (they left, it was cancelled) has nobody
    # left to read it: not stored in a stream that was just erased.
    out[:] = [event for event in out if event.user_id != user]
    return ended
