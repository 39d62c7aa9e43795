"""Threads as operations share them: creating one, closing or reopening
it with its notice, and telling its members that it changed.

``threads.open`` and ``threads.close``/``reopen`` in steps: ``plan_open``
and ``plan_close`` authorize into a frozen plan; ``store_open`` and
``store_close`` run in the writer's transaction and check again what may
have changed since (the patient's count of open threads, the delegation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from protocol.codec import to_raw
from protocol.e2e import Scope
from protocol.methods import ThreadsOpenParams
from protocol.model import Role, ThreadInfo, ThreadKind
from protocol.practice import Notice, NoticeKind, RefusalReason
from server.broker.control import ThreadChanged
from server.connection import Connection
from server.context import Services
from server.convert import thread_info
from server.errors import ServerError, invalid, not_found
from server.notices import post_notice
from server.ops.access import Access, require_still_delegated, thread_of
from server.ops.admission import require_care_principals, require_patients_of, require_verified
from server.policy import (
    CARE_ROLES,
    Practitioner,
    Refusal,
    active_rule,
    member_in_role,
    pair_key,
    patient_open_refusal,
    practitioner_write_refusal,
    rule_refusal,
    thread_open_refusal,
)
from server.writer import Outgoing
from storage.threads import ThreadRecord
from storage.tx import WriteTx

__all__ = [
    "ClosePlan",
    "OpenLimits",
    "OpenPlan",
    "create_thread",
    "emit_thread",
    "plan_close",
    "plan_open",
    "set_closed",
    "shared_info",
    "store_close",
    "store_open",
]


async def create_thread(
    tx: WriteTx,
    out: list[Outgoing],
    kind: ThreadKind,
    opener: int,
    members: list[int],
    now: int,
    *,
    key: str | None = None,
    reason: str | None = None,
    subject: int | None = None,
    practitioner: int | None = None,
    reply_allowed: bool = True,
) -> int:
    """Store a thread and tell its members; a thread with a ``practitioner``
    (patient-practitioner) starts with the emergency notice."""
    thread_id = await tx.threads.create(
        kind.value,
        opener,
        members,
        now,
        key,
        reason=reason,
        subject_id=subject,
        reply_allowed=reply_allowed,
    )
    tx.audit.record(thread_id, now, "opened", actor=opener, detail=reason or "")
    await emit_thread(tx, out, thread_id, opener, members)
    if practitioner is not None:
        await post_notice(
            tx,
            out,
            thread_id=thread_id,
            author=practitioner,
            notice=Notice(NoticeKind.EMERGENCY),
            recipients=members,
            now=now,
        )
    return thread_id


async def set_closed(
    tx: WriteTx,
    out: list[Outgoing],
    thread_id: int,
    by: int,
    *,
    closing: bool,
    now: int,
    acting_for: int | None = None,
) -> None:
    """Close or reopen the thread, with a notice and a ``thread.updated``;
    ``by`` may be a delegate ``acting_for`` a practitioner. Closing a closed
    thread (or reopening an open one) changes nothing."""
    state = await tx.threads.state(thread_id)
    if (state.closed_at is not None) is closing:
        return
    await tx.threads.set_closed(thread_id, now if closing else None, by if closing else None)
    recipients = sorted((await tx.threads.read_seqs(thread_id)).keys())
    kind = NoticeKind.CLOSED if closing else NoticeKind.REOPENED
    await post_notice(
        tx,
        out,
        thread_id=thread_id,
        author=by,
        notice=Notice(kind, by=by, acting_for=acting_for),
        recipients=recipients,
        now=now,
    )
    await emit_thread(tx, out, thread_id, recipients[0], recipients)  # ``by`` may be a delegate


def shared_info(record: ThreadRecord) -> ThreadInfo:
    """The thread as every member may be told of it: receipts and muting
    left out, they are each member's own."""
    info = thread_info(record)
    info.read_seq = info.delivered_seq = info.unread = 0
    info.muted = False
    return info


async def emit_thread(
    tx: WriteTx, out: list[Outgoing], thread_id: int, viewer: int, recipients: list[int]
) -> ThreadInfo:
    """A ``thread.updated`` with the thread as it now is (``shared_info``),
    read as the current member ``viewer``."""
    record = await tx.threads.record(thread_id, viewer)
    assert record is not None
    info = shared_info(record)
    out.append(
        Outgoing(
            "thread.updated",
            to_raw(info),
            recipients,
            thread_id,
            control=ThreadChanged(thread_id, recipients),
        )
    )
    return info


# threads.open


@dataclass(frozen=True, slots=True)
class OpenLimits:
    """A patient opening a thread with their practitioner: what the
    transaction checks (their count of open threads against the settings),
    then the rule that refuses if the settings do not."""

    practitioner: Practitioner
    patient: int
    is_patient: bool
    reason: str | None
    unavailable: Refusal | None


@dataclass(frozen=True, slots=True)
class OpenPlan:
    """A thread that may be opened (or found, for a pair that has one)."""

    kind: ThreadKind
    opener: int
    members: list[int]  # sorted, the opener included
    now: int
    key: str | None  # the pair's, for a thread two people have once
    reason: str | None
    subject: int | None  # the relative a patient-practitioner thread is about
    manager: int | None  # the patient member who manages the subject's profile
    practitioner: int | None  # of a patient-practitioner thread: its notice's author
    limits: OpenLimits | None  # checked again in the transaction


async def plan_open(ctx: Services, conn: Connection, p: ThreadsOpenParams) -> OpenPlan:
    """Refuse now what refuses the thread before it is stored."""
    member_ids = {*p.members, conn.user_id}
    users = await ctx.store.accounts.users(member_ids)
    missing = sorted(member_ids - users.keys())
    if missing:
        raise not_found("no such user", users=missing)
    roles = {user_id: Role(user.role) for user_id, user in users.items()}
    refusal = thread_open_refusal(p.kind, conn.user_id, roles)
    if refusal:
        raise refusal.error()
    now = ctx.clock.ms()
    limits, practitioner, manager = None, None, None
    if p.kind is ThreadKind.PATIENT_PRACTITIONER:
        limits = await _patient_thread_limits(ctx, conn.user_id, roles, p.reason, p.subject)
        practitioner = member_in_role(roles, Role.PRACTITIONER)
        manager = member_in_role(roles, Role.PATIENT) if p.subject is not None else None
    elif p.subject is not None:
        raise invalid("only a patient-practitioner thread is for a relative")
    else:
        await require_verified(ctx, conn, roles)
    if p.kind is ThreadKind.GROUP:
        principals = await require_care_principals(ctx, conn, roles)
        patients = [user for user, role in roles.items() if role is Role.PATIENT]
        await require_patients_of(ctx, principals, patients)
    key = pair_key(p.kind, member_ids)
    return OpenPlan(
        p.kind,
        conn.user_id,
        sorted(member_ids),
        now,
        key,
        p.reason,
        p.subject,
        manager,
        practitioner,
        limits,
    )


async def store_open(plan: OpenPlan, tx: WriteTx, out: list[Outgoing]) -> int:
    """Open the planned thread, in the writer's transaction; a pair's thread
    that exists already is the answer instead."""
    existing = await tx.threads.find_pair(plan.key) if plan.key else None
    if existing is not None:
        return existing
    if plan.manager is not None and plan.subject is not None:
        await _still_managed(tx, plan.manager, plan.subject)
    if plan.limits is not None:
        await _check_open_limits(tx, plan.limits)
    return await create_thread(
        tx,
        out,
        plan.kind,
        plan.opener,
        plan.members,
        plan.now,
        key=plan.key,
        reason=plan.reason,
        subject=plan.subject,
        practitioner=plan.practitioner,
    )


async def _patient_thread_limits(
    ctx: Services,
    opener: int,
    roles: Mapping[int, Role],
    reason: str | None,
    subject: int | None,
) -> OpenLimits | None:
    """Refuse now what the practitioner's settings refuse; return what needs
    the transaction (the patient's count of open threads). A thread for a
    relative needs the patient to manage them, and the relative to be the
    practitioner's patient."""
    patient = member_in_role(roles, Role.PATIENT)
    practitioner = await ctx.directory.practitioner(member_in_role(roles, Role.PRACTITIONER))
    if subject is not None and not await ctx.store.relatives.manages(patient, subject):
        raise _not_managed()
    is_patient = await ctx.store.practices.is_patient(practitioner.id, subject or patient)
    if opener != patient:
        refusal = practitioner_write_refusal(practitioner, is_patient)
        if refusal:
            raise refusal.error()
        return None
    unavailable = rule_refusal(active_rule(practitioner.rules, patient, ctx.clock.ms()))
    return OpenLimits(practitioner, patient, is_patient, reason, unavailable)


def _not_managed() -> ServerError:
    return Refusal(
        RefusalReason.NOT_MANAGED, "this patient does not manage that relative's profile"
    ).error()


async def _still_managed(tx: WriteTx, manager: int, subject: int) -> None:
    """Checked again as the thread is stored: a withdrawal may have come
    between the plan and the transaction."""
    if not await tx.relatives.manages(manager, subject):
        raise _not_managed()


async def _check_open_limits(tx: WriteTx, limits: OpenLimits) -> None:
    practitioner, patient = limits.practitioner, limits.patient
    open_threads = await tx.practices.open_threads(practitioner.id, patient)
    refusal = patient_open_refusal(
        practitioner,
        patient,
        is_patient=limits.is_patient,
        reason=limits.reason,
        open_threads=open_threads,
    )
    refusal = refusal or limits.unavailable  # settings and limits first, then the rule
    if refusal:
        raise refusal.error()


# threads.close, threads.reopen


@dataclass(frozen=True, slots=True)
class ClosePlan:
    """A thread the care side closes or reopens."""

    thread: int
    access: Access
    by: int  # a delegate's own id when acting for a practitioner
    closing: bool
    now: int


async def plan_close(
    ctx: Services, conn: Connection, thread_id: int, *, closing: bool
) -> ClosePlan:
    access = await thread_of(ctx, conn, thread_id, Scope.REPLY)
    if access.role not in CARE_ROLES:
        raise Refusal(
            RefusalReason.NOT_CARE_TEAM, "only the care team closes and reopens a conversation"
        ).error()
    return ClosePlan(thread_id, access, conn.user_id, closing, ctx.clock.ms())


async def store_close(plan: ClosePlan, tx: WriteTx, out: list[Outgoing]) -> None:
    """Close or reopen, in the writer's transaction, if the delegation holds."""
    await require_still_delegated(tx, plan.access, plan.by, Scope.REPLY, plan.now)
    await set_closed(
        tx,
        out,
        plan.thread,
        plan.by,
        closing=plan.closing,
        now=plan.now,
        acting_for=plan.access.acting_for,
    )
