"""threads.open, threads.list, threads.close, threads.reopen

A patient opens one thread per request, with a reason the practitioner
offers, within the practitioner's rules (``server.policy.access``); the
thread starts with the "not an emergency service" notice. Only the care side
closes and reopens a thread; either leaves a notice in it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from protocol.e2e import Scope
from protocol.methods import Empty, ThreadParams, ThreadsListResult, ThreadsOpenParams
from protocol.model import Role, ThreadInfo, ThreadKind
from protocol.practice import RefusalReason
from server.connection import Connection
from server.context import Context
from server.convert import thread_info
from server.errors import forbidden, invalid, not_found
from server.ops.access import require_still_delegated, thread_of
from server.ops.admission import require_care_principals, require_patients_of, require_verified
from server.ops.threads import create_thread, set_closed
from server.policy import (
    CARE_ROLES,
    Refusal,
    active_rule,
    pair_key,
    patient_open_refusal,
    practitioner_write_refusal,
    rule_refusal,
    thread_open_refusal,
)
from server.writer import Outgoing
from storage.tx import WriteTx

__all__ = ["close_thread", "list_threads", "open_thread", "reopen_thread"]

_Check = Callable[[WriteTx], Awaitable[None]]


async def open_thread(ctx: Context, conn: Connection, p: ThreadsOpenParams) -> ThreadInfo:
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
    recipients = sorted(member_ids)
    check = None
    if p.kind is ThreadKind.PATIENT_PRACTITIONER:
        check = await _patient_thread_check(ctx, conn.user_id, roles, p.reason, p.subject)
    elif p.subject is not None:
        raise invalid("only a patient-practitioner thread is for a relative")
    else:
        await require_verified(ctx, conn, roles)
    if p.kind is ThreadKind.GROUP:
        principals = await require_care_principals(ctx, conn, roles)
        patients = [user for user, role in roles.items() if role is Role.PATIENT]
        await require_patients_of(ctx, principals, patients)
    key = pair_key(p.kind, member_ids)

    async def create(tx: WriteTx, out: list[Outgoing]) -> int:
        existing = await tx.threads.find_pair(key) if key else None
        if existing is not None:
            return existing
        if check is not None:
            await check(tx)
        practitioner = None
        if p.kind is ThreadKind.PATIENT_PRACTITIONER:
            practitioner = next(u for u, role in roles.items() if role is Role.PRACTITIONER)
        return await create_thread(
            tx,
            out,
            p.kind,
            conn.user_id,
            recipients,
            now,
            key=key,
            reason=p.reason,
            subject=p.subject,
            practitioner=practitioner,
        )

    thread_id = await ctx.writer.run(create)
    record = await ctx.store.threads.get(thread_id, conn.user_id)
    if record is None:  # only if the caller left an existing practitioners' thread
        raise forbidden("you are no longer a member of this thread", thread=thread_id)
    return thread_info(record)


async def _patient_thread_check(
    ctx: Context,
    opener: int,
    roles: Mapping[int, Role],
    reason: str | None,
    subject: int | None,
) -> _Check | None:
    """Refuse now what the practitioner's settings refuse; return the check
    that needs the transaction (the patient's count of open threads). A
    thread for a relative needs the patient to manage them, and the relative
    to be the practitioner's patient."""
    patient = next(u for u, role in roles.items() if role is Role.PATIENT)
    practitioner = await ctx.directory.practitioner(
        next(u for u, role in roles.items() if role is Role.PRACTITIONER)
    )
    if subject is not None and not await ctx.store.relatives.manages(patient, subject):
        raise Refusal(
            RefusalReason.NOT_MANAGED, "this patient does not manage that relative's profile"
        ).error()
    is_patient = await ctx.store.practices.is_patient(practitioner.id, subject or patient)
    if opener != patient:
        refusal = practitioner_write_refusal(practitioner, is_patient)
        if refusal:
            raise refusal.error()
        return None
    unavailable = rule_refusal(active_rule(practitioner.rules, patient, ctx.clock.ms()))

    async def within_limits(tx: WriteTx) -> None:
        open_threads = await tx.practices.open_threads(practitioner.id, patient)
        refusal = patient_open_refusal(
            practitioner, patient, is_patient=is_patient, reason=reason, open_threads=open_threads
        )
        refusal = refusal or unavailable  # settings and limits first, then the rule
        if refusal:
            raise refusal.error()

    return within_limits


async def list_threads(ctx: Context, conn: Connection, _: Empty) -> ThreadsListResult:
    """The caller's threads, then those of each practitioner they read for
    (``via``), as that practitioner sees them; each thread once."""
    found = [thread_info(t) for t in await ctx.store.threads.list_for(conn.user_id)]
    seen = {info.id for info in found}
    now = ctx.clock.ms()
    for principal, grant in sorted(conn.grants.items()):
        if not grant.allows(Scope.READ, now):
            continue
        for record in await ctx.store.threads.list_for(principal):
            if record.id not in seen:
                seen.add(record.id)
                info = thread_info(record)
                info.via = principal
                found.append(info)
    return ThreadsListResult(found)


async def close_thread(ctx: Context, conn: Connection, p: ThreadParams) -> ThreadInfo:
    return await _close_or_reopen(ctx, conn, p.thread, closing=True)


async def reopen_thread(ctx: Context, conn: Connection, p: ThreadParams) -> ThreadInfo:
    return await _close_or_reopen(ctx, conn, p.thread, closing=False)


async def _close_or_reopen(
    ctx: Context, conn: Connection, thread_id: int, *, closing: bool
) -> ThreadInfo:
    access = await thread_of(ctx, conn, thread_id, Scope.REPLY)
    if access.role not in CARE_ROLES:
        raise Refusal(
            RefusalReason.NOT_CARE_TEAM, "only the care team closes and reopens a conversation"
        ).error()
    now = ctx.clock.ms()

    async def change(tx: WriteTx, out: list[Outgoing]) -> None:
        await require_still_delegated(tx, access, conn.user_id, Scope.REPLY, now)
        await set_closed(
            tx, out, thread_id, conn.user_id, closing=closing, now=now, acting_for=access.acting_for
        )

    await ctx.writer.run(change, thread_id)
    record = await ctx.store.threads.get(thread_id, access.actor)
    if record is None:
        raise forbidden("you are not a member of this thread", thread=thread_id)
    info = thread_info(record)
    info.via = access.acting_for
    return info
