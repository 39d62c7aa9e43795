"""admin.verify, admin.professionals, practices.*, practitioners.*, patients.*, inbox.*

Who may call what: an admin verifies practitioners; practitioners run their
practices, their patient list and their inbox settings; anyone signed in
finds verified practitioners. The changes are stored by
``server.ops.practice``.
"""

from __future__ import annotations

from functools import partial

from protocol.model import Empty, Role
from protocol.practice import (
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
    ProfessionalInfo,
    ProfessionalsParams,
    ProfessionalsResult,
    RefusalReason,
    VerifyParams,
)
from protocol.texts import render
from server.connection import Connection
from server.context import Services
from server.convert import member
from server.errors import invalid, not_found
from server.ops.admission import require_role, require_verified_practitioner
from server.ops.practice import (
    checked_rpps,
    plan_invite,
    practice_info,
    require_practitioner_of,
    store_acceptance,
    store_decline,
    store_inbox,
    store_invite,
    store_removal,
    store_verification,
)
from server.policy import (
    Practitioner,
    Refusal,
    active_rule,
    patient_open_refusal,
    rule_refusal,
)
from storage.accounts import UserRecord
from storage.practice import InvitationRecord
from storage.professionals import Professional

__all__ = [
    "accept",
    "create_practice",
    "decline",
    "get_inbox",
    "get_practitioner",
    "invite",
    "leave",
    "list_practices",
    "professionals",
    "remove_member",
    "search_practitioners",
    "set_inbox",
    "verify",
]


async def verify(ctx: Services, conn: Connection, p: VerifyParams) -> Empty:
    """An admin verifies a practitioner, against the directory of health
    professionals when given their number (``docs/accounts.md``)."""
    require_role(conn, Role.ADMIN, "verify practitioners")
    rpps = await checked_rpps(ctx.store, ctx.settings, p.user, p.rpps)
    await ctx.writer.run(partial(store_verification, p.user, rpps, ctx.clock.ms()))
    return Empty()


async def professionals(
    ctx: Services, conn: Connection, p: ProfessionalsParams
) -> ProfessionalsResult:
    """The imported directory, for an admin finding a practitioner's number."""
    require_role(conn, Role.ADMIN, "search the directory of health professionals")
    found = await ctx.store.professionals.search(p.text, p.limit)
    return ProfessionalsResult(
        [
            ProfessionalInfo(x.rpps, x.last_name, x.first_name, x.profession, x.specialty, holder)
            for x, holder in found
        ]
    )


# Practices: a verified practitioner creates one and invites colleagues,
# assistants and bots; each joins by accepting, and anyone may leave.


async def create_practice(ctx: Services, conn: Connection, p: PracticeCreateParams) -> PracticeInfo:
    await require_verified_practitioner(ctx, conn, "create a practice")
    practice_id = await ctx.store.practices.create(p.name, conn.user_id, ctx.clock.ms(), p.locale)
    return await _practice(ctx, conn.user_id, practice_id)


async def list_practices(ctx: Services, conn: Connection, _: Empty) -> PracticesListResult:
    practices = await ctx.store.practices.of_user(conn.user_id)
    invitations = await ctx.store.practices.invitations(conn.user_id)
    return PracticesListResult(
        [practice_info(r) for r in practices], [_invitation(r) for r in invitations]
    )


async def invite(ctx: Services, conn: Connection, p: PracticeMemberParams) -> PracticeInfo:
    plan = await plan_invite(ctx, conn, p)
    await ctx.writer.run(partial(store_invite, plan))
    return await _practice(ctx, conn.user_id, p.practice)


async def accept(ctx: Services, conn: Connection, p: PracticeParams) -> PracticeInfo:
    if conn.role is Role.PRACTITIONER:
        await require_verified_practitioner(ctx, conn, "join a practice")
    await ctx.writer.run(partial(store_acceptance, p.practice, conn.user_id, ctx.clock.ms()))
    return await _practice(ctx, conn.user_id, p.practice)


async def decline(ctx: Services, conn: Connection, p: PracticeParams) -> Empty:
    await ctx.writer.run(partial(store_decline, p.practice, conn.user_id))
    return Empty()


async def leave(ctx: Services, conn: Connection, p: PracticeParams) -> Empty:
    await ctx.writer.run(partial(store_removal, p.practice, conn.user_id))
    return Empty()


async def remove_member(ctx: Services, conn: Connection, p: PracticeMemberParams) -> PracticeInfo:
    """Remove a member, or withdraw an invitation."""
    await require_practitioner_of(ctx, conn, p.practice)
    if p.user == conn.user_id:
        raise invalid("to remove yourself, leave the practice (practices.leave)")
    await ctx.writer.run(partial(store_removal, p.practice, p.user))
    return await _practice(ctx, conn.user_id, p.practice)


async def _practice(ctx: Services, user_id: int, practice_id: int) -> PracticeInfo:
    found = [r for r in await ctx.store.practices.of_user(user_id) if r.id == practice_id]
    if not found:  # removed from it meanwhile
        raise not_found("not a member of this practice", practice=practice_id)
    return practice_info(found[0])


def _invitation(record: InvitationRecord) -> PracticeInvitation:
    return PracticeInvitation(
        record.practice_id, record.practice_name, member(record.invited_by), record.invited_at
    )


# Finding practitioners


async def search_practitioners(
    ctx: Services, conn: Connection, p: PractitionerSearchParams
) -> PractitionersResult:
    found = await ctx.store.practices.search(p.text, p.limit)
    listed = await ctx.store.professionals.of_accounts(user.id for user in found)
    infos = []
    for user in found:
        practitioner = await ctx.directory.practitioner(user.id)
        infos.append(_practitioner_info(user, practitioner, listed.get(user.id)))
    return PractitionersResult(infos)


async def get_practitioner(
    ctx: Services, conn: Connection, p: PractitionerParams
) -> PractitionerInfo:
    """A verified practitioner, and for a patient, whether they may write now."""
    users = await ctx.store.accounts.users([p.practitioner])
    user = users.get(p.practitioner)
    practitioner = await ctx.directory.practitioner(p.practitioner)
    if user is None or user.role != Role.PRACTITIONER or not practitioner.verified:
        raise not_found("no such practitioner", practitioner=p.practitioner)
    listed = await ctx.store.professionals.of_accounts([user.id])
    info = _practitioner_info(user, practitioner, listed.get(user.id))
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


async def _open_refusal(ctx: Services, practitioner: Practitioner, patient: int) -> Refusal | None:
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


def _practitioner_info(
    user: UserRecord, practitioner: Practitioner, listed: Professional | None
) -> PractitionerInfo:
    """``listed``: the directory's entry they were verified with, if any."""
    inbox = practitioner.inbox
    info = PractitionerInfo(user.id, user.display_name, inbox.accepting, inbox.reasons)
    if listed is not None:
        info.profession, info.specialty = listed.profession, listed.specialty
    return info


# A practitioner's inbox


async def get_inbox(ctx: Services, conn: Connection, _: Empty) -> InboxSettings:
    require_role(conn, Role.PRACTITIONER, "have an inbox")
    return (await ctx.directory.practitioner(conn.user_id)).inbox


async def set_inbox(ctx: Services, conn: Connection, p: InboxSettings) -> InboxSettings:
    require_role(conn, Role.PRACTITIONER, "have an inbox")
    codes = [reason.code for reason in p.reasons]
    if len(set(codes)) != len(codes):
        raise invalid("each request reason code appears once", reasons=codes)
    await ctx.writer.run(partial(store_inbox, conn.user_id, p, ctx.clock.ms()))
    return p
