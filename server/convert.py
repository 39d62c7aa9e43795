"""Storage records to wire records."""

from __future__ import annotations

from msgspec import Raw

from protocol.booking import AppointmentInfo, AppointmentStatus
from protocol.codec import to_raw
from protocol.model import Member, MessageData, Role, ThreadInfo, ThreadKind
from storage.accounts import UserRecord
from storage.appointments import AppointmentRecord
from storage.events import StoredEvent
from storage.messages import StoredMessage
from storage.threads import ThreadRecord

__all__ = ["appointment_info", "event_data", "member", "message_data", "thread_info"]


def member(user: UserRecord) -> Member:
    return Member(user.id, Role(user.role), user.display_name)


def message_data(m: StoredMessage) -> MessageData:
    return MessageData(
        id=m.id,
        thread=m.thread_id,
        thread_seq=m.seq,
        sender=m.sender_id,
        sender_device=m.sender_device_id,
        client_msg_id=m.client_msg_id,
        kind=m.kind,
        envelope=m.envelope,
        sent_at=m.sent_at,
        reply_allowed=m.reply_allowed,
        reason=m.reason,
        retracted=m.retracted_at is not None,
        expired=m.expired_at is not None,
    )


def thread_info(t: ThreadRecord) -> ThreadInfo:
    return ThreadInfo(
        id=t.id,
        kind=ThreadKind(t.kind),
        members=[
            Member(m.user_id, Role(m.role), m.display_name, m.delivered_seq, m.read_seq)
            for m in t.members
        ],
        created_by=t.created_by,
        created_at=t.created_at,
        last_seq=t.last_seq,
        read_seq=t.read_seq,
        delivered_seq=t.delivered_seq,
        unread=t.unread,
        reason=t.reason,
        subject=t.subject_id,
        closed=t.closed_at is not None,
        reply_allowed=t.reply_allowed,
        last_at=t.last_at,
        muted=t.muted,
    )


def appointment_info(record: AppointmentRecord) -> AppointmentInfo:
    return AppointmentInfo(
        id=record.id,
        practitioner=record.practitioner_id,
        patient=record.patient_id,
        reason=record.reason,
        starts_at=record.starts_at,
        ends_at=record.ends_at,
        status=AppointmentStatus(record.status),
        subject=record.subject_id,
        hold_expires_at=record.hold_expires_at if record.status == "held" else None,
        video=record.video,
        note=record.note,
        cancel_reason=record.cancel_reason,
        cancelled_by=record.cancelled_by,
    )


def event_data(event: StoredEvent) -> Raw:
    """A stored event's data as its frame carries it."""
    if event.message is not None:
        return to_raw(message_data(event.message))
    return to_raw(None) if event.data is None else Raw(event.data)
