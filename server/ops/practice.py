"""Practices and practitioners' settings, as the writer stores them.

``plan_invite`` authorizes an invitation into a frozen ``InvitePlan``. The
other changes (verifying an account, answering an invitation, leaving, an
inbox's settings) need nothing decided beforehand but who and when: their
store steps take those as arguments. Each runs in the writer's transaction
and tells the people concerned.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from msgspec import Struct

from protocol.codec import to_raw
from protocol.model import Member, Role
from protocol.practice import (
    AccountVerified,
    InboxSettings,
    PracticeInfo,
    PracticeInvitation,
    PracticeMemberParams,
    RefusalReason,
)
from protocol.texts import Locale
from server.broker.control import PracticeChanged
from server.connection import Connection
from server.context import Services
from server.convert import member
from server.errors import conflict, not_found
from server.ops.admission import require_verified_practitioner
from server.ops.delegations import delegation_ended
from server.policy import Refusal
from server.rpps import names_match
from server.settings import Settings
from server.writer import Outgoing
from storage import Store
from storage.errors import Conflict
from storage.practice import PracticeRecord
from storage.tx import WriteTx

__all__ = [
    "InvitePlan",
    "checked_rpps",
    "plan_invite",
    "practice_info",
    "require_practitioner_of",
    "store_acceptance",
    "store_decline",
    "store_inbox",
    "store_invite",
    "store_removal",
    "store_verification",
]

PRACTICE_ROLES = frozenset({Role.PRACTITIONER, Role.ASSISTANT, Role.BOT})
_encode = msgspec.msgpack.Encoder().encode


async def checked_rpps(store: Store, settings: Settings, user: int, rpps: str | None) -> str | None:
    """The directory number to verify ``user`` with, once the imported
    directory says it is theirs (``server.rpps.names_match``): over the
    socket (``admin.verify``) and in ``carehub admin verify``."""
    if rpps is None:
        if settings.practitioners_need_rpps:
            raise Refusal(RefusalReason.RPPS_REQUIRED, "verify with an RPPS number").error()
        return None
    professional = await store.professionals.get(rpps)
    if professional is None:
        raise Refusal(RefusalReason.RPPS_UNKNOWN, "no such number in the directory").error()
    account = (await store.accounts.users([user])).get(user)
    if account is None or account.role != Role.PRACTITIONER:
        raise not_found("no such practitioner", user=user)
    if not names_match(account.display_name, professional):
        reason, named = RefusalReason.RPPS_MISMATCH, {"directory_name": professional.name}
        raise Refusal(reason, "the directory names someone else", details=named).error()
    return rpps


async def store_verification(
    user: int, rpps: str | None, now: int, tx: WriteTx, out: list[Outgoing]
) -> None:
    """An admin verifies the practitioner ``user`` (with their directory number)."""
    try:
        verified_at = await tx.practices.verify(user, now, rpps)
    except Conflict:
        raise Refusal(
            RefusalReason.RPPS_TAKEN, "the number verifies another account"
        ).error() from None
    if verified_at is None:
        raise not_found("no such practitioner", user=user)
    event = to_raw(AccountVerified(user, verified_at))
    out.append(
        Outgoing("account.verified", event, [user], user_id=user, control=PracticeChanged(user))
    )


@dataclass(frozen=True, slots=True)
class InvitePlan:
    """``inviter`` invites ``user`` into ``practice``."""

    practice: int
    user: int
    inviter: Member
    now: int


async def plan_invite(ctx: Services, conn: Connection, p: PracticeMemberParams) -> InvitePlan:
    await require_practitioner_of(ctx, conn, p.practice)
    users = await ctx.store.accounts.users([p.user, conn.user_id])
    if p.user not in users:
        raise not_found("no such user", user=p.user)
    if Role(users[p.user].role) not in PRACTICE_ROLES:
        raise Refusal(
            RefusalReason.ROLE, "a practice has practitioners, assistants and bots as members"
        ).error()
    return InvitePlan(p.practice, p.user, member(users[conn.user_id]), ctx.clock.ms())


async def store_invite(plan: InvitePlan, tx: WriteTx, out: list[Outgoing]) -> None:
    """Invite, unless they are a member already (or invited: nothing new)."""
    if await tx.practices.is_member(plan.practice, plan.user):
        raise conflict("already a member of this practice")
    if await tx.practices.invite(plan.practice, plan.user, plan.inviter.user, plan.now):
        record = await _updated(tx, out, plan.practice)
        invitation = PracticeInvitation(record.id, record.name, plan.inviter, plan.now)
        out.append(_personal("practice.invited", invitation, plan.user))


async def store_acceptance(
    practice: int, user: int, now: int, tx: WriteTx, out: list[Outgoing]
) -> None:
    if not await tx.practices.accept(practice, user, now):
        raise not_found("no invitation to this practice", practice=practice)
    await _updated(tx, out, practice)


async def store_decline(practice: int, user: int, tx: WriteTx, out: list[Outgoing]) -> None:
    if not await tx.practices.decline(practice, user):
        raise not_found("no invitation to this practice", practice=practice)
    await _updated(tx, out, practice, also=user)


async def store_removal(practice: int, user: int, tx: WriteTx, out: list[Outgoing]) -> None:
    """The user leaves the practice (or their invitation is withdrawn); the
    delegations that needed it end."""
    if await tx.practices.remove_member(practice, user):
        # Delegation needs a shared practice: those it held together end now.
        for ended in await tx.delegations.drop_unshared(user):
            out.extend(delegation_ended(ended.principal_id, ended.delegate_id))
    elif not await tx.practices.decline(practice, user):
        raise not_found("not a member of this practice", user=user)
    await _updated(tx, out, practice, also=user)


async def store_inbox(
    practitioner: int, settings: InboxSettings, now: int, tx: WriteTx, out: list[Outgoing]
) -> None:
    """A practitioner's inbox settings, told to their other sessions."""
    await tx.practices.set_inbox(practitioner, _encode(settings), now)
    out.append(
        Outgoing(
            "inbox.updated",
            to_raw(settings),
            [practitioner],
            user_id=practitioner,
            control=PracticeChanged(practitioner),
        )
    )


async def require_practitioner_of(ctx: Services, conn: Connection, practice_id: int) -> None:
    await require_verified_practitioner(ctx, conn, "manage a practice")
    if not await ctx.store.practices.member_of(practice_id, conn.user_id):
        raise Refusal(RefusalReason.ROLE, "you are not a member of this practice").error()


def practice_info(record: PracticeRecord) -> PracticeInfo:
    return PracticeInfo(
        record.id,
        record.name,
        record.created_by,
        [member(u) for u in record.members],
        [member(u) for u in record.invited],
        Locale(record.locale),
    )


async def _updated(
    tx: WriteTx, out: list[Outgoing], practice_id: int, also: int | None = None
) -> PracticeRecord:
    """A ``practice.updated`` to each member (and to ``also``, who just left)."""
    record = await tx.practices.record(practice_id)
    if record is None:
        raise not_found("no such practice", practice=practice_id)
    info = practice_info(record)
    recipients = {member.id for member in record.members} | ({also} if also else set())
    out.extend(_personal("practice.updated", info, user) for user in sorted(recipients))
    return record


def _personal(kind: str, data: Struct, user: int) -> Outgoing:
    return Outgoing(kind, to_raw(data), [user], user_id=user)
