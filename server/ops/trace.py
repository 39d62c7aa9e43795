"""Withdrawing a message without hiding that it was sent (``messages.retract``).

Which thread the message is in is known only inside the transaction, so
the store step checks it all there, from the transaction's own view of the
thread: the message is the caller's, not a notice, and the caller is still
a member or still answers in the thread for a practitioner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from protocol.e2e import Delegate, Scope
from protocol.model import Role
from protocol.practice import Notice, NoticeKind
from server.errors import invalid, not_found
from server.notices import NOTICE_KIND, post_notice
from server.policy import delegated_member
from server.writer import Outgoing
from storage.tx import WriteTx

__all__ = ["Retraction", "store_retraction"]


@dataclass(frozen=True, slots=True)
class Retraction:
    """``user`` withdraws their message ``message_id``."""

    message_id: int
    user: int
    grants: Mapping[int, Delegate]  # the delegations the caller holds (by principal)
    now: int


async def store_retraction(plan: Retraction, tx: WriteTx, out: list[Outgoing]) -> None:
    """Empty the message's envelope, keeping its place, sender and time, and
    leave a ``retracted`` notice every member sees."""
    message = await tx.messages.for_retraction(plan.message_id)
    members = await tx.threads.read_seqs(message.thread_id) if message else {}
    if (
        message is None
        or message.sender_id != plan.user
        or message.kind == NOTICE_KIND
        or not await _still_answers(tx, plan, message.thread_id, members)
    ):
        raise not_found("no message of yours with this id", id=plan.message_id)
    if message.retracted_at is not None:
        raise invalid("this message is already retracted", id=plan.message_id)
    await tx.messages.retract(message.id, plan.now)
    notice = Notice(NoticeKind.RETRACTED, by=plan.user, message=message.id)
    await post_notice(
        tx,
        out,
        thread_id=message.thread_id,
        author=plan.user,
        notice=notice,
        recipients=sorted(members),
        now=plan.now,
    )


async def _still_answers(
    tx: WriteTx, plan: Retraction, thread_id: int, members: Mapping[int, int]
) -> bool:
    """Whether the caller is still a member of the thread, or still answers
    in it for a practitioner (a sender who left cannot retract)."""
    if plan.user in members:
        return True
    roles = {user: Role(role) for user, role in (await tx.threads.roles(thread_id)).items()}
    return delegated_member(roles, plan.grants, Scope.REPLY, plan.now) is not None
