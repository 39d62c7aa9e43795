"""admin.verify, practices.*, practitioners.*, patients.*, inbox.*

Who may call what: an admin verifies practitioners; practitioners run their
practices, their patient list and their inbox settings; anyone signed in
finds verified practitioners.
"""

from __future__ import annotations

import msgspec
from msgspec import Struct

from protocol.codec import to_raw
from protocol.errors import ErrorCode
from protocol.model import Empty, Role
from protocol.practice import (
    AccountVerified,
    InboxSettings,
    PracticeCreateParams,
    PracticeInfo,
    PracticeInvitation,
    PracticeMemberParams,
    PracticeParams,
    PracticesListResult,
    PractitionerInfo,
    PractitionerParams,
    PractitionerSearchParams,
    PractitionersResult,
    RefusalReason,
    UserParams,
)
from protocol.texts import Locale, render
from server.broker.control import PracticeChanged
from server.connection import Connection
from server.context import Context
from server.convert import member
from server.errors import ServerError, invalid, not_found
from server.ops.admission import require_role, require_verified_practitioner
from server.ops.delegations import delegation_ended
from server.policy import (
    Practitioner,
    Refusal,
    active_rule,
    patient_open_refusal,
    rule_refusal,
)
from server.writer import Operation, Outgoing
from storage.accounts import UserRecord
from storage.practice import InvitationRecord, PracticeRecord
from storage.tx import WriteTx

__all__ = [
    "accept",
    "create_practice",
    "decline",
    "get_inbox",
    "get_practitioner",
    "invite",
    "leave",
    "list_practices",
    "remove_member",
    "search_practitioners",
    "set_inbox",
    "verify",
]

PRACTICE_ROLES = frozenset({Role.PRACTITIONER, Role.ASSISTANT, Role.BOT})
_encode = msgspec.msgpack.Encoder().encode


async def verify(ctx: Context, conn: Connection, p: UserParams) -> Empty:
    require_role(conn, Role.ADMIN, "verify practitioners")
    now = ctx.clock.ms()

    async def store(tx: WriteTx, out: list[Outgoing]) -> None:
        verified_at = await tx.practices.verify(p.user, now)
        if verified_at is None:
            raise not_found("no such practitioner", user=p.user)
        event = to_raw(AccountVerified(p.user, verified_at))
        out.append(
            Outgoing(
                "account.verified", event, [p.user], user_id=p.user, control=PracticeChanged(p.user)
            )
        )

    await ctx.writer.run(store)
    return Empty()


# Practices: a verified practitioner creates one and invites colleagues,
# assistants and bots; each joins by accepting, and anyone may leave.


async def create_practice(ctx: Context, conn: Connection, p: PracticeCreateParams) -> PracticeInfo:
    await require_verified_practitioner(ctx, conn, "create a practice")
    practice_id = await ctx.store.practices.create(p.name, conn.user_id, ctx.clock.ms(), p.locale)
    return await _practice(ctx, conn.user_id, practice_id)


async def list_practices(ctx: Context, conn: Connection, _: Empty) -> PracticesListResult:
    practices = await ctx.store.practices.of_user(conn.user_id)
    invitations = await ctx.store.practices.invitations(conn.user_id)
    return PracticesListResult(
        [_practice_info(r) for r in practices], [_invitation(r) for r in invitations]
    )


async def invite(ctx: Context, conn: Connection, p: PracticeMemberParams) -> PracticeInfo:
    await _require_practitioner_of(ctx, conn, p.practice)
    users = await ctx.store.accounts.users([p.user, conn.user_id])
    if p.user not in users:
        raise not_found("no such user", user=p.user)
    if Role(users[p.user].role) not in PRACTICE_ROLES:
        raise Refusal(
            RefusalReason.ROLE, "a practice has practitioners, assistants and bots as members"
        ).error()
    inviter, now = member(users[conn.user_id]), ctx.clock.ms()

    async def store(tx: WriteTx, out: list[Outgoing]) -> None:
        if await tx.practices.is_member(p.practice, p.user):
            raise ServerError(ErrorCode.CONFLICT, "already a member of this practice")
        if await tx.practices.invite(p.practice, p.user, conn.user_id, now):
            record = await _updated(tx, out, p.practice)
            invitation = PracticeInvitation(record.id, record.name, inviter, now)
            out.append(_personal("practice.invited", invitation, p.user))

    await ctx.writer.run(store)
    return await _practice(ctx, conn.user_id, p.practice)


async def accept(ctx: Context, conn: Connection, p: PracticeParams) -> PracticeInfo:
    if conn.role is Role.PRACTITIONER:
        await require_verified_practitioner(ctx, conn, "join a practice")
    now = ctx.clock.ms()

    async def store(tx: WriteTx, out: list[Outgoing]) -> None:
        if not await tx.practices.accept(p.practice, conn.user_id, now):
            raise not_found("no invitation to this practice", practice=p.practice)
        await _updated(tx, out, p.practice)

    await ctx.writer.run(store)
    return await _practice(ctx, conn.user_id, p.practice)


async def decline(ctx: Context, conn: Connection, p: PracticeParams) -> Empty:
    async def store(tx: WriteTx, out: list[Outgoing]) -> None:
        if not await tx.practices.decline(p.practice, conn.user_id):
            raise not_found("no invitation to this practice", practice=p.practice)
        await _updated(tx, out, p.practice, also=conn.user_id)

    await ctx.writer.run(store)
    return Empty()


async def leave(ctx: Context, conn: Connection, p: PracticeParams) -> Empty:
    await ctx.writer.run(_removal(p.practice, conn.user_id))
    return Empty()


async def remove_member(ctx: Context, conn: Connection, p: PracticeMemberParams) -> PracticeInfo:
    """Remove a member, or withdraw an invitation."""
    await _require_practitioner_of(ctx, conn, p.practice)
    if p.user == conn.user_id:
        raise invalid("to remove yourself, leave the practice (practices.leave)")
    await ctx.writer.run(_removal(p.practice, p.user))
    return await _practice(ctx, conn.user_id, p.practice)


def _removal(practice_id: int, user_id: int) -> Operation[None]:
    """The user leaves the practice (or their invitation is withdrawn); the
    delegations that needed it end."""

    async def remove(tx: WriteTx, out: list[Outgoing]) -> None:
        if await tx.practices.remove_member(practice_id, user_id):
            # Delegation needs a shared practice: those it held together end now.
            for ended in await tx.delegations.drop_unshared(user_id):
                out.extend(delegation_ended(ended.principal_id, ended.delegate_id))
        elif not await tx.practices.decline(practice_id, user_id):
            raise not_found("not a member of this practice", user=user_id)
        await _updated(tx, out, practice_id, also=user_id)

    return remove


async def _updated(
    tx: WriteTx, out: list[Outgoing], practice_id: int, also: int | None = None
) -> PracticeRecord:
    """A ``practice.updated`` to each member (and to ``also``, who just left)."""
    record = await tx.practices.record(practice_id)
    if record is None:
        raise not_found("no such practice", practice=practice_id)
    info = _practice_info(record)
    recipients = {member.id for member in record.members} | ({also} if also else set())
    out.extend(_personal("practice.updated", info, user) for user in sorted(recipients))
    return record


def _personal(kind: str, data: Struct, user: int) -> Outgoing:
    return Outgoing(kind, to_raw(data), [user], user_id=user)


async def _require_practitioner_of(ctx: Context, conn: Connection, practice_id: int) -> None:
    await require_verified_practitioner(ctx, conn, "manage a practice")
    if not await ctx.store.practices.member_of(practice_id, conn.user_id):
        raise Refusal(RefusalReason.ROLE, "you are not a member of this practice").error()


async def _practice(ctx: Context, user_id: int, practice_id: int) -> PracticeInfo:
    found = [r for r in await ctx.store.practices.of_user(user_id) if r.id == practice_id]
    if not found:  # removed from it meanwhile
        raise not_found("not a member of this practice", practice=practice_id)
    return _practice_info(found[0])


def _practice_info(record: PracticeRecord) -> PracticeInfo:
    return PracticeInfo(
        record.id,
        record.name,
        record.created_by,
        [member(u) for u in record.members],
        [member(u) for u in record.invited],
        Locale(record.locale),
    )


def _invitation(record: InvitationRecord) -> PracticeInvitation:
    return PracticeInvitation(
        record.practice_id, record.practice_name, member(record.invited_by), record.invited_at
    )


# Finding practitioners


async def search_practitioners(
    ctx: Context, conn: Connection, p: PractitionerSearchParams
) -> PractitionersResult:
    found = await ctx.store.practices.search(p.text, p.limit)
    infos = []
    for user in found:
        practitioner = await ctx.directory.practitioner(user.id)
        infos.append(_practitioner_info(user, practitioner))
    return PractitionersResult(infos)


async def get_practitioner(
    ctx: Context, conn: Connection, p: PractitionerParams
) -> PractitionerInfo:
    """A verified practitioner, and for a patient, whether they may write now."""
    users = await ctx.store.accounts.users([p.practitioner])
    user = users.get(p.practitioner)
    practitioner = await ctx.directory.practitioner(p.practitioner)
    if user is None or user.role != Role.PRACTITIONER or not practitioner.verified:
        raise not_found("no such practitioner", practitioner=p.practitioner)
    info = _practitioner_info(user, practitioner)
    info.emergency_notice = render(conn.locale, "notice.emergency")
    if conn.role is Role.PATIENT:
        practices = ctx.store.practices
        _, declined = await practices.reachable_by_broadcast(p.practitioner, [conn.user_id])
        info.campaigns_opted_out = conn.user_id in declined
        refusal = await _open_refusal(ctx, practitioner, conn.user_id)
        if refusal:
            info.refusal = RefusalReason(refusal.reason)
            info.refusal_text = refusal.error().worded(conn.locale)  # as a refusal would say it
            info.refusal_details = refusal.details
    return info


async def _open_refusal(ctx: Context, practitioner: Practitioner, patient: int) -> Refusal | None:
    """What ``threads.open`` would answer for the first reason offered: the
    settings and limits first, then a vacation rule that refuses."""
    is_patient = await ctx.store.practices.is_patient(practitioner.id, patient)
    open_threads = await ctx.store.practices.open_threads(practitioner.id, patient)
    reasons = practitioner.inbox.reasons
    refusal = patient_open_refusal(
        practitioner,
        patient,
        is_patient=is_patient,
        reason=reasons[0].code if reasons else None,
        open_threads=open_threads,
    )
    return refusal or rule_refusal(active_rule(practitioner.rules, patient, ctx.clock.ms()))


def _practitioner_info(user: UserRecord, practitioner: Practitioner) -> PractitionerInfo:
    inbox = practitioner.inbox
    return PractitionerInfo(user.id, user.display_name, inbox.accepting, inbox.reasons)


# A practitioner's inbox


async def get_inbox(ctx: Context, conn: Connection, _: Empty) -> InboxSettings:
    require_role(conn, Role.PRACTITIONER, "have an inbox")
    return (await ctx.directory.practitioner(conn.user_id)).inbox


async def set_inbox(ctx: Context, conn: Connection, p: InboxSettings) -> InboxSettings:
    require_role(conn, Role.PRACTITIONER, "have an inbox")
    codes = [reason.code for reason in p.reasons]
    if len(set(codes)) != len(codes):
        raise invalid("each request reason code appears once", reasons=codes)
    now = ctx.clock.ms()

    async def store(tx: WriteTx, out: list[Outgoing]) -> None:
        await tx.practices.set_inbox(conn.user_id, _encode(p), now)
        out.append(
            Outgoing(
                "inbox.updated",
                to_raw(p),
                [conn.user_id],
                user_id=conn.user_id,
                control=PracticeChanged(conn.user_id),
            )
        )

    await ctx.writer.run(store)
    return p
