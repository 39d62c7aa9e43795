"""messages.send, messages.history

The server reads an envelope's cleartext header only: it must be the
caller's, for this thread, and wrap the content key for exactly the thread's
current devices (``server.coverage``). It never sees a key or a body. An
assistant answers for a practitioner with ``acting_for`` in the header, within
the practitioner's delegation to them (``reply`` scope).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from protocol.codec import encode_event, to_raw
from protocol.e2e import Header, Scope, decode_envelope
from protocol.errors import DecodeError, ErrorCode
from protocol.events import Notify
from protocol.methods import HistoryParams, HistoryResult, SendParams, SendResult
from protocol.model import Role, ThreadKind
from protocol.practice import RefusalReason
from server.broker.base import Delivery
from server.connection import Connection
from server.context import Context
from server.convert import message_data
from server.coverage import delegates_of, recipient_gaps
from server.errors import ServerError, forbidden, invalid
from server.notices import NOTICE_KIND, auto_reply
from server.policy import (
    CARE_ROLES,
    DAY_MS,
    Firing,
    PatientThread,
    Refusal,
    active_rule,
    patient_send_refusal,
    rule_refusal,
)
from server.rpc.base import Access, require_still_delegated, thread_of
from server.rpc.receipts import receipt_event
from server.rpc.threads import set_closed
from server.writer import Outgoing
from storage.messages import StoredMessage
from storage.threads import Receipt
from storage.tx import WriteTx

__all__ = ["history", "send"]


async def send(ctx: Context, conn: Connection, p: SendParams) -> SendResult:
    limit = ctx.settings.max_envelope_bytes
    if len(p.envelope) > limit:
        raise ServerError(ErrorCode.TOO_LARGE, f"envelope over {limit} bytes", limit=limit)
    if p.kind == NOTICE_KIND:
        raise invalid("notices are written by the server, not sent")
    header = _header(p)
    # A delegate answers in a practitioner's place only by saying so (signed).
    acting_for = header.acting_for
    scope = None if acting_for is None else Scope.REPLY
    access = await thread_of(ctx, conn, p.thread, scope, acting_for)
    _check_call(p, header)
    now = ctx.clock.ms()
    try:
        patient_check, answer = await _admit(ctx, conn, p, header, access, now)
    except ServerError:
        # A retry of a message already stored, refused because the devices or
        # the rules changed since, is answered as the duplicate it is.
        stored = await ctx.store.messages.sent(conn.device_id, p.client_msg_id)
        if stored is None:
            raise
        return _duplicate(stored, p.thread)
    sets_reply_allowed = (
        access.kind is ThreadKind.PATIENT_PRACTITIONER and access.role in CARE_ROLES
    )

    async def store(
        tx: WriteTx, out: list[Outgoing]
    ) -> tuple[StoredMessage, dict[int, int] | None, Outgoing | None]:
        existing = await tx.messages.by_client_id(conn.device_id, p.client_msg_id)
        if existing is not None:  # a retry racing its first attempt
            return existing, None, None
        read_seqs = await tx.threads.read_seqs(p.thread)
        if access.actor not in read_seqs:
            raise forbidden("you are not a member of this thread", thread=p.thread)
        await require_still_delegated(tx, access, conn.user_id, Scope.REPLY, now)
        if patient_check is not None:
            await patient_check(tx)
        message = await tx.messages.append(
            thread_id=p.thread,
            sender_id=conn.user_id,
            sender_device_id=conn.device_id,
            client_msg_id=p.client_msg_id,
            kind=p.kind,
            reason=p.reason,
            reply_allowed=p.reply_allowed,
            envelope=p.envelope,
            now=now,
        )
        await tx.audit.record(
            p.thread,
            now,
            "sent",
            actor=conn.user_id,
            acting_for=header.acting_for,
            seq=message.seq,
        )
        announced = Outgoing(
            "message.new",
            to_raw(message_data(message)),
            sorted(read_seqs),
            thread_id=p.thread,
            message_id=message.id,
            exclude_session=conn.session,
        )
        out.append(announced)
        if not access.delegated:  # having sent implies having read everything before
            await _read_up_to(tx, out, message, sorted(read_seqs), conn.session)
        if answer is not None:
            await auto_reply(
                tx,
                out,
                answer,
                thread_id=p.thread,
                practitioner=_practitioner(access.members),
                recipients=sorted(read_seqs),
                now=now,
            )
        if sets_reply_allowed:
            await tx.threads.set_reply_allowed(p.thread, p.reply_allowed)
        if p.close_thread:
            await set_closed(
                tx, out, p.thread, conn.user_id, closing=True, now=now, acting_for=access.acting_for
            )
        return message, read_seqs, announced

    message, read_seqs, announced = await ctx.writer.run(store, p.thread)
    if read_seqs is None or announced is None:
        return _duplicate(message, p.thread)
    if not access.delegated:
        receipt = Receipt(message.seq, message.seq)
        ctx.directory.raise_receipt_floor(p.thread, conn.user_id, receipt)
    await _notify(ctx, message, read_seqs, announced.seq)
    return SendResult(message.id, message.seq, message.sent_at)


def _duplicate(stored: StoredMessage, thread_id: int) -> SendResult:
    """The answer to a send whose ``client_msg_id`` this device already stored."""
    if stored.thread_id != thread_id:
        raise ServerError(ErrorCode.CONFLICT, "client_msg_id already used in another thread")
    return SendResult(stored.id, stored.seq, stored.sent_at, duplicate=True)


async def _admit(
    ctx: Context, conn: Connection, p: SendParams, header: Header, access: Access, now: int
) -> tuple[Callable[[WriteTx], Awaitable[None]] | None, Firing | None]:
    """Refuse now what refuses the message before it is stored: recipients
    that are not the thread's devices, a closing by the patient side, the
    practitioner's rules. The patient's check that needs the storing
    transaction, and the auto-reply rule that answers, if any."""
    await _check_header(ctx, conn, header, access.members, now)
    if p.close_thread and access.role not in CARE_ROLES:
        raise Refusal(
            RefusalReason.NOT_CARE_TEAM, "only the care team closes a conversation"
        ).error()
    if access.kind is ThreadKind.PATIENT_PRACTITIONER and access.role is Role.PATIENT:
        practitioner = _practitioner(access.members)
        return await _patient_check(ctx, conn.user_id, p.thread, practitioner, now)
    return None, None


async def _read_up_to(
    tx: WriteTx,
    out: list[Outgoing],
    message: StoredMessage,
    recipients: list[int],
    session: str,
) -> None:
    """The sender has read the thread up to their own message: their
    receipt moves, and the others (their other devices too) see it."""
    seq, sender = message.seq, message.sender_id
    moved = await tx.threads.advance_receipt(
        message.thread_id, sender, delivered_seq=seq, read_seq=seq
    )
    if moved is not None:
        out.append(receipt_event(message.thread_id, sender, moved, recipients, session))


def _practitioner(members: Mapping[int, Role]) -> int:
    """The practitioner of a patient-practitioner thread."""
    return next(user for user, role in members.items() if role is Role.PRACTITIONER)


async def _patient_check(
    ctx: Context, patient: int, thread_id: int, practitioner_id: int, now: int
) -> tuple[Callable[[WriteTx], Awaitable[None]], Firing | None]:
    """The practitioner's rules for one more message from their patient: a
    refusing rule refuses now; the rest is checked inside the storing
    transaction (the thread may have just closed). Also the auto-reply rule
    that answers the message, if one is active."""
    practitioner = await ctx.directory.practitioner(practitioner_id)
    firing = active_rule(practitioner.rules, patient, now)
    refusal = rule_refusal(firing)
    if refusal:
        raise refusal.error()
    inbox = practitioner.inbox

    async def check(tx: WriteTx) -> None:
        state = await tx.threads.state(thread_id)
        sent = await tx.messages.count_sent(
            patient, practitioner_id, now - DAY_MS, inbox.max_daily_messages
        )
        thread = PatientThread(state.closed_at is not None, state.reply_allowed)
        refusal = patient_send_refusal(thread, inbox, sent)
        if refusal:
            raise refusal.error()

    return check, firing


def _header(p: SendParams) -> Header:
    try:
        return decode_envelope(p.envelope)[1]
    except DecodeError as exc:
        raise invalid(f"not an envelope: {exc}") from None


def _check_call(p: SendParams, header: Header) -> None:
    """The header says what the call says."""
    expected = {
        "thread": p.thread,
        "kind": p.kind,
        "reason": p.reason,
        "msg_id": p.client_msg_id,
    }
    found = {
        "thread": header.thread,
        "kind": header.kind,
        "reason": header.reason,
        "msg_id": header.msg_id.hex(),
    }
    differ = sorted(name for name in expected if expected[name] != found[name])
    if differ:
        raise invalid("the envelope header disagrees with the call", fields=differ)


async def _check_header(
    ctx: Context, conn: Connection, header: Header, members: Mapping[int, Role], now: int
) -> None:
    if (header.sender_user, header.sender_device) != (conn.user_id, conn.device_id):
        raise forbidden("the envelope names another sender")
    member_ids = set(members)
    for attempt in range(2):
        lists = await ctx.directory.device_lists(member_ids)
        readers = member_ids | delegates_of(lists, member_ids, now)
        lists = await ctx.directory.device_lists(readers)
        gaps = recipient_gaps(lists, member_ids, [r.device for r in header.recipients], now)
        if not gaps:
            return
        if not attempt:  # our cached lists may be older than the sender's: read them again
            ctx.directory.forget_device_lists(readers)
    raise ServerError(
        ErrorCode.STALE_DEVICES,
        "the recipients do not match the thread's devices: fetch keys and seal again",
        **gaps,
    )


async def _notify(
    ctx: Context, message: StoredMessage, read_seqs: dict[int, int], after: int | None
) -> None:
    """Popups for the care team's foreground sessions, with their unread count
    (people's messages, notices not counted). Members who read up to the same
    message share one count, one frame and one delivery, pushed after the
    message's event (seq ``after``)."""
    members = await ctx.directory.members(message.thread_id)
    by_read_seq: dict[int, list[int]] = {}
    for user_id, read_seq in read_seqs.items():
        if user_id != message.sender_id and members.get(user_id) in CARE_ROLES:
            by_read_seq.setdefault(read_seq, []).append(user_id)
    for read_seq, users in by_read_seq.items():
        unread = (  # a reader who is up to date has only this message unread: no query
            1
            if read_seq == message.seq - 1
            else await ctx.store.messages.unread(message.thread_id, read_seq)
        )
        data = Notify(message.thread_id, message.sender_id, unread, message.reason)
        frame = encode_event("notify", to_raw(data))
        await ctx.broker.publish(
            Delivery(users, frame, foreground_only=True, thread=message.thread_id, after=after)
        )


async def history(ctx: Context, conn: Connection, p: HistoryParams) -> HistoryResult:
    await thread_of(ctx, conn, p.thread, Scope.READ)
    limit = min(p.limit, ctx.settings.history_page)
    found, has_more = await ctx.store.messages.history(p.thread, p.before_seq, limit)
    return HistoryResult([message_data(m) for m in found], has_more)
