"""patients.add, patients.list, care.invitations, care.accept, care.decline

A patient is "a patient of" a practitioner after a confirmed appointment
(their own doing), or when the practitioner asks and the patient accepts:
nobody becomes a practitioner's patient unasked, since it lets the
practitioner write to them, bring them into a care team and broadcast to
them. The invitation goes to the patient, or to whoever manages a relative's
profile; the practitioner learns the patient's name only once they accept.
"""

from __future__ import annotations

from protocol.codec import to_raw
from protocol.model import Empty, Role
from protocol.practice import (
    CareInvitation,
    CareInvitationsResult,
    CareParams,
    CareStatus,
    PatientAddResult,
    PatientInfo,
    PatientsListResult,
    UserParams,
)
from server.connection import Connection
from server.context import Context
from server.convert import member
from server.errors import ServerError, not_found
from server.ops.admission import require_role, require_verified_practitioner
from server.writer import Outgoing
from storage.tx import WriteTx

__all__ = ["accept", "add_patient", "decline", "invitations", "list_patients"]


async def add_patient(ctx: Context, conn: Connection, p: UserParams) -> PatientAddResult:
    await require_verified_practitioner(ctx, conn, "add patients")
    users = await ctx.store.accounts.users([p.user, conn.user_id])
    if p.user not in users or users[p.user].role != Role.PATIENT:
        raise not_found("no such patient", user=p.user)
    if await ctx.store.practices.is_patient(conn.user_id, p.user):
        return PatientAddResult(CareStatus.PATIENT)
    me, now = users[conn.user_id], ctx.clock.ms()
    asked = CareInvitation(member(me), p.user, now)
    audience = sorted({p.user, *await ctx.store.relatives.managers(p.user)})

    async def store(tx: WriteTx, out: list[Outgoing]) -> None:
        if await tx.practices.invite_patient(conn.user_id, p.user, now):
            data = to_raw(asked)
            out.extend(Outgoing("care.invited", data, [user], user_id=user) for user in audience)

    await ctx.writer.run(store)
    return PatientAddResult(CareStatus.INVITED)


async def list_patients(ctx: Context, conn: Connection, _: Empty) -> PatientsListResult:
    require_role(conn, Role.PRACTITIONER, "list patients")
    found = await ctx.store.practices.patients(conn.user_id)
    return PatientsListResult(
        [PatientInfo(user.id, user.display_name, source, since) for user, source, since in found],
        await ctx.store.practices.invited_patients(conn.user_id),
    )


async def invitations(ctx: Context, conn: Connection, _: Empty) -> CareInvitationsResult:
    """The invitations to the caller and to the relatives they manage."""
    relatives = [r.user_id for r in await ctx.store.relatives.of(conn.user_id)]
    found = await ctx.store.practices.care_invitations([conn.user_id, *relatives])
    return CareInvitationsResult(
        [CareInvitation(member(r.practitioner), r.patient_id, r.invited_at) for r in found]
    )


async def accept(ctx: Context, conn: Connection, p: CareParams) -> Empty:
    await _answer(ctx, conn, p, accept=True)
    return Empty()


async def decline(ctx: Context, conn: Connection, p: CareParams) -> Empty:
    await _answer(ctx, conn, p, accept=False)
    return Empty()


async def _answer(ctx: Context, conn: Connection, p: CareParams, *, accept: bool) -> None:
    """The patient (or the manager of a relative's profile) answers; on
    acceptance the practitioner gets ``patient.added``."""
    patient = p.patient or conn.user_id
    if patient != conn.user_id and not await ctx.store.relatives.manages(conn.user_id, patient):
        raise _no_invitation(p)
    name = (await ctx.store.accounts.users([patient]))[patient].display_name if accept else ""
    now = ctx.clock.ms()

    async def store(tx: WriteTx, out: list[Outgoing]) -> None:
        if not await tx.practices.answer_care(p.practitioner, patient, accept=accept, now=now):
            raise _no_invitation(p)
        if accept:
            info = PatientInfo(patient, name, "added", now)
            out.append(
                Outgoing("patient.added", to_raw(info), [p.practitioner], user_id=p.practitioner)
            )

    await ctx.writer.run(store)


def _no_invitation(p: CareParams) -> ServerError:
    """Not asked, or not the caller's to answer: the same answer either way."""
    return not_found("no invitation from this practitioner", practitioner=p.practitioner)
