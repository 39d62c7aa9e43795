"""patients.add, patients.list, care.invitations, care.accept, care.decline

A patient is "a patient of" a practitioner after a confirmed appointment
(their own doing), or when the practitioner asks and the patient accepts:
nobody becomes a practitioner's patient unasked, since it lets the
practitioner write to them, bring them into a care team and broadcast to
them. The invitation goes to the patient, or to whoever manages a relative's
profile; the practitioner learns the patient's name only once they accept.
Asking and answering are planned and stored by ``server.ops.care``.
"""

from __future__ import annotations

from functools import partial

from protocol.model import Empty, Role
from protocol.practice import (
    CareInvitation,
    CareInvitationsResult,
    CareParams,
    CareStatus,
    PatientAddResult,
    PatientFindParams,
    PatientInfo,
    PatientsFoundResult,
    PatientsListResult,
    UserParams,
)
from server.connection import Connection
from server.context import Services
from server.convert import member
from server.ops.admission import require_role
from server.ops.care import plan_add_patient, plan_answer, store_answer, store_care_invitation
from server.ops.profile import named, past_day

__all__ = ["accept", "add_patient", "decline", "find_patients", "invitations", "list_patients"]


async def add_patient(ctx: Services, conn: Connection, p: UserParams) -> PatientAddResult:
    plan = await plan_add_patient(ctx, conn, p)
    if plan is None:
        return PatientAddResult(CareStatus.PATIENT)
    await ctx.writer.run(partial(store_care_invitation, plan))
    return PatientAddResult(CareStatus.INVITED)


async def list_patients(ctx: Services, conn: Connection, _: Empty) -> PatientsListResult:
    require_role(conn, Role.PRACTITIONER, "list patients")
    found = await ctx.store.practices.patients(conn.user_id)
    return PatientsListResult(
        [PatientInfo(user.id, user.display_name, source, since) for user, source, since in found],
        await ctx.store.practices.invited_patients(conn.user_id),
    )


async def find_patients(
    ctx: Services, conn: Connection, p: PatientFindParams
) -> PatientsFoundResult:
    """The caller's patients of that name and date of birth: an identity
    check before a document goes to the right one of two namesakes."""
    require_role(conn, Role.PRACTITIONER, "find patients")
    day = past_day(p.birth_date, ctx.clock.ms())
    born = await ctx.store.practices.patients(conn.user_id, born=day)
    return PatientsFoundResult(
        [
            PatientInfo(user.id, user.display_name, source, since)
            for user, source, since in born
            if named(user, p.name)
        ]
    )


async def invitations(ctx: Services, conn: Connection, _: Empty) -> CareInvitationsResult:
    """The invitations to the caller and to the relatives they manage."""
    relatives = [r.user_id for r in await ctx.store.relatives.of(conn.user_id)]
    found = await ctx.store.practices.care_invitations([conn.user_id, *relatives])
    return CareInvitationsResult(
        [CareInvitation(member(r.practitioner), r.patient_id, r.invited_at) for r in found]
    )


async def accept(ctx: Services, conn: Connection, p: CareParams) -> Empty:
    plan = await plan_answer(ctx, conn, p, accept=True)
    await ctx.writer.run(partial(store_answer, plan))
    return Empty()


async def decline(ctx: Services, conn: Connection, p: CareParams) -> Empty:
    plan = await plan_answer(ctx, conn, p, accept=False)
    await ctx.writer.run(partial(store_answer, plan))
    return Empty()
