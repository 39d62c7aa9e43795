"""How a caller reaches a thread: as a member, or as the delegate of a
practitioner member whose delegation covers what they do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from protocol.e2e import Delegate, Scope
from protocol.model import Role, ThreadKind
from protocol.practice import RefusalReason
from server.connection import Connection
from server.context import Services
from server.directory import ThreadMeta
from server.errors import forbidden
from server.policy import DELEGATE_ROLES, Refusal, delegated_member
from storage.tx import WriteTx

__all__ = [
    "Access",
    "delegated",
    "grants_of",
    "members_of",
    "reach",
    "require_still_delegated",
    "thread_of",
]


@dataclass(frozen=True, slots=True)
class Access:
    """How the caller reaches a thread: in their own place (``actor`` is
    them), or in the place of ``actor``, the practitioner they act for."""

    meta: ThreadMeta
    actor: int
    delegated: bool

    @property
    def kind(self) -> ThreadKind:
        return self.meta.kind

    @property
    def members(self) -> Mapping[int, Role]:
        return self.meta.members

    @property
    def role(self) -> Role:
        """The role the caller acts in."""
        return self.meta.members[self.actor]

    @property
    def acting_for(self) -> int | None:
        return self.actor if self.delegated else None


async def reach(
    ctx: Services,
    user_id: int,
    grants: Mapping[int, Delegate],
    thread_id: int,
    scope: Scope | None,
    acting_for: int | None = None,
) -> Access:
    """The caller's way into the thread: as a member, or (given ``scope``) as
    the delegate of a practitioner member whose delegation covers it.
    ``acting_for`` names that practitioner; a member acting for nobody
    leaves it None. Otherwise ``forbidden``: with reason ``not_delegated``
    when the caller may read the thread but not do this in it (nobody
    learns of a thread they cannot read)."""
    meta = await ctx.directory.thread(thread_id)
    if acting_for is None and user_id in meta.members:
        return Access(meta, user_id, delegated=False)
    if scope is not None:
        principal = delegated_member(meta.members, grants, scope, ctx.clock.ms(), acting_for)
        if principal is not None:
            return Access(meta, principal, delegated=True)
    reads = delegated_member(meta.members, grants, Scope.READ, ctx.clock.ms()) is not None
    if acting_for is not None or (scope is not None and reads):
        raise Refusal(
            RefusalReason.NOT_DELEGATED,
            f"your delegation does not let you {scope or 'act'} in this thread",
            {"acting_for": acting_for} if acting_for is not None else {"thread": thread_id},
        ).error()
    raise forbidden("you are not a member of this thread", thread=thread_id)


async def thread_of(
    ctx: Services,
    conn: Connection,
    thread_id: int,
    scope: Scope | None = None,
    acting_for: int | None = None,
) -> Access:
    """``reach`` for a socket: its delegations were loaded when it connected."""
    return await reach(ctx, conn.user_id, conn.grants, thread_id, scope, acting_for)


def delegated(ctx: Services, conn: Connection, principal: int, scope: Scope) -> bool:
    """Whether ``principal`` delegated ``scope`` to the caller, valid now
    (the delegations loaded when the socket connected)."""
    grant = conn.grants.get(principal)
    return grant is not None and grant.allows(scope, ctx.clock.ms())


async def require_still_delegated(
    tx: WriteTx, access: Access, delegate: int, scope: Scope, now: int
) -> None:
    """Inside the writing transaction: a delegation revoked since the call
    was checked refuses it (nothing a revoked delegate sent is stored)."""
    if not access.delegated:
        return
    grant = await tx.delegations.grant(access.actor, delegate)
    if grant is None or not Delegate(delegate, grant.scope, grant.expires).allows(scope, now):
        raise Refusal(
            RefusalReason.NOT_DELEGATED,
            "your delegation has just ended",
            {"acting_for": access.actor},
        ).error()


async def members_of(ctx: Services, conn: Connection, thread_id: int) -> Mapping[int, Role]:
    """The thread's members, if the caller is one of them; ``forbidden`` otherwise."""
    return (await thread_of(ctx, conn, thread_id)).members


async def grants_of(ctx: Services, user_id: int, role: Role) -> Mapping[int, Delegate]:
    """The delegations a user received (only assistants and bots receive any)."""
    return await ctx.directory.grants(user_id) if role in DELEGATE_ROLES else {}
