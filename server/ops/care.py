"""Becoming a practitioner's patient on request, in steps: the practitioner
asks (``plan_add_patient``, ``store_care_invitation``), the patient or the
manager of a relative's profile answers (``plan_answer``,
``store_answer``)."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.codec import to_raw
from protocol.model import Role
from protocol.practice import CareInvitation, CareParams, PatientInfo, UserParams
from server.connection import Connection
from server.context import Services
from server.convert import member
from server.errors import ServerError, not_found
from server.ops.admission import require_verified_practitioner
from server.writer import Outgoing
from storage.tx import WriteTx

__all__ = [
    "AnswerPlan",
    "CareInvitationPlan",
    "plan_add_patient",
    "plan_answer",
    "store_answer",
    "store_care_invitation",
]


@dataclass(frozen=True, slots=True)
class CareInvitationPlan:
    """A practitioner asks a patient; ``audience``: the patient and whoever
    manages their profile, each told once."""

    invitation: CareInvitation
    audience: list[int]


async def plan_add_patient(
    ctx: Services, conn: Connection, p: UserParams
) -> CareInvitationPlan | None:
    """The invitation to store, or None if the patient is the caller's already."""
    await require_verified_practitioner(ctx, conn, "add patients")
    users = await ctx.store.accounts.users([p.user, conn.user_id])
    if p.user not in users or users[p.user].role != Role.PATIENT:
        raise not_found("no such patient", user=p.user)
    if await ctx.store.practices.is_patient(conn.user_id, p.user):
        return None
    invitation = CareInvitation(member(users[conn.user_id]), p.user, ctx.clock.ms())
    audience = sorted({p.user, *await ctx.store.relatives.managers(p.user)})
    return CareInvitationPlan(invitation, audience)


async def store_care_invitation(plan: CareInvitationPlan, tx: WriteTx, out: list[Outgoing]) -> None:
    asked = plan.invitation
    if await tx.practices.invite_patient(asked.practitioner.user, asked.patient, asked.at):
        data = to_raw(asked)
        out.extend(Outgoing("care.invited", data, [user], user_id=user) for user in plan.audience)


@dataclass(frozen=True, slots=True)
class AnswerPlan:
    """The answer to ``request.practitioner``'s invitation of ``patient``."""

    request: CareParams
    patient: int
    manager: int | None  # who answers for the patient, a relative
    accept: bool
    name: str  # the patient's, told to the practitioner on acceptance
    now: int


async def plan_answer(
    ctx: Services, conn: Connection, p: CareParams, *, accept: bool
) -> AnswerPlan:
    patient = p.patient or conn.user_id
    if patient != conn.user_id and not await ctx.store.relatives.manages(conn.user_id, patient):
        raise _no_invitation(p)
    name = (await ctx.store.accounts.users([patient]))[patient].display_name if accept else ""
    manager = conn.user_id if patient != conn.user_id else None
    return AnswerPlan(p, patient, manager, accept, name, ctx.clock.ms())


async def store_answer(plan: AnswerPlan, tx: WriteTx, out: list[Outgoing]) -> None:
    """Record the answer; on acceptance the practitioner gets ``patient.added``."""
    practitioner, patient = plan.request.practitioner, plan.patient
    if plan.manager is not None and not await tx.relatives.manages(plan.manager, patient):
        raise _no_invitation(plan.request)  # withdrawn since the plan
    if not await tx.practices.answer_care(practitioner, patient, accept=plan.accept, now=plan.now):
        raise _no_invitation(plan.request)
    if plan.accept:
        info = PatientInfo(patient, plan.name, "added", plan.now)
        out.append(Outgoing("patient.added", to_raw(info), [practitioner], user_id=practitioner))


def _no_invitation(p: CareParams) -> ServerError:
    """Not asked, or not the caller's to answer: the same answer either way."""
    return not_found("no invitation from this practitioner", practitioner=p.practitioner)
