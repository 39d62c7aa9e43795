"""Notices: entries the server writes into a thread (the emergency notice,
auto-replies, closing and reopening). They are ``message.new`` events of kind
``notice`` with no sending device, so no client can mistake them for a
person's words; their body is a cleartext ``protocol.practice.Notice``."""

from __future__ import annotations

import uuid

import msgspec

from protocol.codec import to_raw
from protocol.practice import Notice, NoticeKind
from server.convert import message_data
from server.policy import Firing
from server.writer import Outgoing
from storage.messages import NewMessage, StoredMessage
from storage.tx import WriteTx

__all__ = ["NOTICE_KIND", "auto_reply", "post_notice"]

NOTICE_KIND = "notice"
_encode = msgspec.msgpack.Encoder().encode


async def post_notice(
    tx: WriteTx,
    out: list[Outgoing],
    *,
    thread_id: int,
    author: int,
    notice: Notice,
    recipients: list[int],
    now: int,
) -> StoredMessage:
    """Append ``notice`` to the thread on behalf of ``author`` (the
    practitioner whose rule or action it is) and emit it to ``recipients``."""
    new = NewMessage(
        thread_id=thread_id,
        sender_id=author,
        sender_device_id=None,
        client_msg_id=f"notice:{uuid.uuid4().hex}",
        kind=NOTICE_KIND,
        reason=None,
        reply_allowed=True,
        envelope=_encode(notice),
        now=now,
    )
    message = await tx.messages.append(new)
    out.append(
        Outgoing(
            "message.new",
            to_raw(message_data(message)),
            recipients,
            thread_id=thread_id,
            message_id=message.id,
        )
    )
    if notice.kind is not NoticeKind.EMERGENCY:  # the trail: who did what, and when
        tx.audit.record(
            thread_id,
            now,
            notice.kind.value,
            actor=notice.by,
            acting_for=notice.acting_for,
            seq=message.seq,
            user=notice.user,
            rule=notice.rule,
        )
    return message


async def auto_reply(
    tx: WriteTx,
    out: list[Outgoing],
    firing: Firing,
    *,
    thread_id: int,
    practitioner: int,
    recipients: list[int],
    now: int,
) -> None:
    """The rule's answer, once per thread per window, and the emergency
    notice again if the rule repeats it."""
    rule = firing.rule
    if not await tx.rules.fire(rule.id, thread_id, firing.occurrence, now):
        return
    notices = [Notice(NoticeKind.AUTO_REPLY, rule.text, rule=rule.id, redirect_to=rule.redirect_to)]
    if rule.emergency_notice:
        notices.append(Notice(NoticeKind.EMERGENCY, rule=rule.id))
    for notice in notices:
        await post_notice(
            tx,
            out,
            thread_id=thread_id,
            author=practitioner,
            notice=notice,
            recipients=recipients,
            now=now,
        )
