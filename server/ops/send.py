"""A person's message, in three steps (``messages.send``).

1. ``plan_send`` authorizes: the envelope's header names the caller, this
   thread and exactly the thread's current devices; the care team alone
   closes; the practitioner's rules allow it. Its ``SendPlan`` is frozen:
   what the store step does is decided here.
2. ``store_send`` runs in the writer's transaction: it checks again what may
   have changed since (membership, the delegation, the patient's limits),
   stores the message, its audit line and its events. On PostgreSQL, a
   message that does nothing more, it leaves ``Staged`` for the writer to
   store with others'. Its read takes no lock: the write checks again that
   the sender is a member and a patient's thread takes their answers
   (``storage.messages._unchanged``: another node may have committed).
3. ``after_send`` follows the commit: the sender's receipt floor and the
   care team's popups.

The server reads the envelope's cleartext header only; it never sees a key
or a body.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from protocol.codec import to_raw
from protocol.e2e import AnyHeader, Scope
from protocol.events import Notify
from protocol.methods import SendParams
from protocol.model import Role, ThreadKind
from protocol.practice import InboxSettings, RefusalReason
from server.context import Services
from server.convert import message_data
from server.errors import forbidden
from server.notices import auto_reply
from server.ops.access import Access, require_still_delegated
from server.ops.live import tell
from server.ops.receipts import receipt_event
from server.ops.sender_keys import reached_devices, require_coverage
from server.ops.threads import set_closed
from server.policy import (
    CARE_ROLES,
    Firing,
    PatientThread,
    Refusal,
    active_rule,
    member_in_role,
    patient_send_refusal,
    rule_refusal,
)
from server.writer import Outgoing, ReadAhead, Staged
from storage.messages import NewMessage, StoredMessage
from storage.threads import Receipt, SendAsk, SendState
from storage.tx import WriteTx

__all__ = ["PatientLimits", "SendPlan", "Sent", "after_send", "plan_send", "store_send"]


@dataclass(frozen=True, slots=True)
class PatientLimits:
    """A patient writing to their practitioner: the inbox settings to check
    again inside the transaction (the thread may have closed meanwhile)."""

    practitioner: int
    inbox: InboxSettings


@dataclass(frozen=True, slots=True)
class SendPlan:
    """A message that may be stored, and everything its storing does."""

    params: SendParams
    header: AnyHeader
    access: Access
    user: int  # who sends (a delegate's own id when acting for a practitioner)
    device: int
    session: str
    now: int
    patient: PatientLimits | None  # checked again in the transaction
    answer: Firing | None  # the auto-reply rule that answers it, if any

    @property
    def ask(self) -> SendAsk:
        """What the store step reads of the thread (``ThreadTx.send_state``)."""
        recipient = None if self.patient is None else self.patient.practitioner
        p = self.params
        reply_allowed = p.reply_allowed if self.sets_reply_allowed else None
        return SendAsk(
            p.thread, self.device, p.client_msg_id, self.user, recipient, self.now, reply_allowed
        )

    @property
    def message_alone(self) -> bool:
        """Storing it writes the message alone: no rule answers it, it
        does not close the thread."""
        return self.answer is None and not self.params.close_thread

    @property
    def ahead(self) -> ReadAhead:
        """The store step's read, which the writer may make with others';
        with the message alone to write, the writer may also store it with
        others' (``Staged``)."""
        return ReadAhead(_read_sends, self.ask, stages=self.message_alone)

    def message(self) -> NewMessage:
        p, patient = self.params, self.patient
        return NewMessage(
            thread_id=p.thread,
            sender_id=self.user,
            sender_device_id=self.device,
            client_msg_id=p.client_msg_id,
            kind=p.kind,
            reason=p.reason,
            reply_allowed=p.reply_allowed,
            envelope=p.envelope,
            now=self.now,
            thread_reply_allowed=p.reply_allowed if self.sets_reply_allowed else None,
            reader=None if self.access.delegated else self.user,  # having sent, they read it all
            counted_for=None if patient is None else patient.practitioner,
            open_only=patient is not None,  # as ``_check_patient_limits`` found it
        )

    @property
    def sets_reply_allowed(self) -> bool:
        """The care side's message says whether the patient may answer."""
        access = self.access
        return access.kind is ThreadKind.PATIENT_PRACTITIONER and access.role in CARE_ROLES


@dataclass(frozen=True, slots=True)
class Sent:
    """What the store step did: the message, and unless it was a retry's
    duplicate, the thread's members (and how far each read) and the seq of
    its ``message.new``."""

    message: StoredMessage
    read_seqs: dict[int, int] | None = None
    announced: Outgoing | None = None  # numbered at commit


async def plan_send(
    ctx: Services,
    user: int,
    device: int,
    session: str,
    params: SendParams,
    header: AnyHeader,
    access: Access,
) -> SendPlan:
    """Refuse now what refuses the message before it is stored."""
    now = ctx.clock.ms()
    if (header.sender_user, header.sender_device) != (user, device):
        raise forbidden("the envelope names another sender")
    await require_coverage(ctx, access.members, await reached_devices(ctx, header), now)
    if params.close_thread and access.role not in CARE_ROLES:
        raise Refusal(
            RefusalReason.NOT_CARE_TEAM, "only the care team closes a conversation"
        ).error()
    patient, answer = None, None
    if access.kind is ThreadKind.PATIENT_PRACTITIONER and access.role is Role.PATIENT:
        practitioner = member_in_role(access.members, Role.PRACTITIONER)
        patient, answer = await _patient_rules(ctx, user, practitioner, now)
    return SendPlan(params, header, access, user, device, session, now, patient, answer)


async def _read_sends(tx: WriteTx, sends: list[tuple[SendAsk, bool]]) -> None:
    """Every send's read ahead (one function: the batch reads them as one kind)."""
    tx.ahead.update((await tx.threads.read_ahead(sends)).items())


async def store_send(plan: SendPlan, tx: WriteTx, out: list[Outgoing]) -> Sent | Staged[Sent]:
    """Store the planned message, in the writer's transaction: on
    PostgreSQL, a message that does nothing more is left ``Staged`` for the
    writer to store with others'."""
    p, access, now, patient = plan.params, plan.access, plan.now, plan.patient
    ask = plan.ask
    found = tx.ahead.pop(ask) if ask in tx.ahead else await tx.threads.send_state(ask)
    if found is not None and found.duplicate:  # a retry racing its first attempt
        existing = await tx.messages.by_client_id(plan.device, p.client_msg_id)
        assert existing is not None, "the duplicate's row is in this transaction's snapshot"
        return Sent(existing)
    if found is None or access.actor not in found.read_seqs:
        raise forbidden("you are not a member of this thread", thread=p.thread)
    read_seqs = found.read_seqs
    await require_still_delegated(tx, access, plan.user, Scope.REPLY, now)
    if patient is not None:
        _check_patient_limits(found, patient.inbox)
    stored = partial(_stored, plan, read_seqs, tx, out)
    if plan.message_alone and tx.messages.stores_together:
        return Staged(plan.message(), partial(stored, shared=True))
    sent = stored(await tx.messages.append(plan.message()), shared=False)
    if plan.answer is not None:
        practitioner = member_in_role(access.members, Role.PRACTITIONER)
        await auto_reply(
            tx,
            out,
            plan.answer,
            thread_id=p.thread,
            practitioner=practitioner,
            recipients=sorted(read_seqs),
            now=now,
        )
    if p.close_thread:
        await set_closed(
            tx, out, p.thread, plan.user, closing=True, now=now, acting_for=access.acting_for
        )
    return sent


def _stored(
    plan: SendPlan,
    read_seqs: dict[int, int],
    tx: WriteTx,
    out: list[Outgoing],
    message: StoredMessage,
    *,
    shared: bool,
) -> Sent:
    """The stored message's audit line and events. ``shared``: a staged
    message's ``read_seqs`` may be those of the sends read ahead after it
    in its thread (``ThreadTx.read_ahead``): its sender's read seq moves
    in them."""
    thread = plan.params.thread
    tx.audit.record(
        thread,
        message.sent_at,
        "sent",
        actor=plan.user,
        acting_for=plan.header.acting_for,
        seq=message.seq,
    )
    members = sorted(read_seqs)
    announced = Outgoing(
        "message.new",
        to_raw(message_data(message)),
        members,
        thread_id=thread,
        message_id=message.id,
        exclude_session=plan.session,
    )
    out.append(announced)
    sent = Sent(message, dict(read_seqs) if shared else read_seqs, announced)  # as found
    if not plan.access.delegated:  # the others see the sender's receipt move
        read = Receipt(message.seq, message.seq)
        out.append(receipt_event(thread, plan.user, read, members, plan.session))
        if shared:
            read_seqs[plan.user] = message.seq
    return sent


async def after_send(ctx: Services, plan: SendPlan, sent: Sent) -> None:
    """What follows the commit of a new message."""
    message = sent.message
    if not plan.access.delegated:
        ctx.directory.raise_receipt_floor(
            message.thread_id, plan.user, Receipt(message.seq, message.seq)
        )
    assert sent.read_seqs is not None and sent.announced is not None, "not a duplicate"
    await _popups(ctx, message, sent.read_seqs, sent.announced.seq)


async def _patient_rules(
    ctx: Services, patient: int, practitioner_id: int, now: int
) -> tuple[PatientLimits, Firing | None]:
    """The practitioner's rules for one more message from their patient: a
    refusing rule refuses now; the limits are checked again in the storing
    transaction. Also the auto-reply rule that answers, if one is active."""
    practitioner = await ctx.directory.practitioner(practitioner_id)
    firing = active_rule(practitioner.rules, patient, now)
    refusal = rule_refusal(firing)
    if refusal:
        raise refusal.error()
    return PatientLimits(practitioner_id, practitioner.inbox), firing


def _check_patient_limits(found: SendState, inbox: InboxSettings) -> None:
    thread = PatientThread(found.thread.closed_at is not None, found.thread.reply_allowed)
    refusal = patient_send_refusal(thread, inbox, found.sent_last_day)
    if refusal:
        raise refusal.error()


async def _popups(
    ctx: Services, message: StoredMessage, read_seqs: dict[int, int], after: int | None
) -> None:
    """Popups for the care team's foreground sessions, with their unread count
    (people's messages up to this one, notices not counted). Members who read
    up to the same message share one count, one frame and one delivery,
    pushed after the message's event (seq ``after``)."""
    members = await ctx.directory.members(message.thread_id)
    by_read_seq: dict[int, list[int]] = {}
    for user_id, read_seq in read_seqs.items():
        if user_id != message.sender_id and members.get(user_id) in CARE_ROLES:
            by_read_seq.setdefault(read_seq, []).append(user_id)
    for read_seq, users in by_read_seq.items():
        unread = await ctx.popup_counts.unread(message.thread_id, read_seq, message.seq)
        data = Notify(message.thread_id, message.sender_id, unread, message.reason)
        await tell(
            ctx, "notify", data, users, thread=message.thread_id, foreground_only=True, after=after
        )
