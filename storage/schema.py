"""The tables. Times are integer milliseconds since the Unix epoch (UTC).

Messages are stored once, whatever the number of recipients. ``events`` is the
durable stream clients resume from: one row per event, addressed either to a
thread (every participant whose membership window covers its seq sees it) or
to one user. Event seqs come from the PostgreSQL sequence ``event_seq``
(migration 0014) or, on SQLite, from the ``stream_positions`` row ``events``;
``storage.events`` says why a reader never skips one that commits late.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AccountAuditRecord",
    "AuditRecord",
    "Base",
    "BroadcastOptOut",
    "CareRelation",
    "Device",
    "DeviceList",
    "Event",
    "File",
    "HealthProfessional",
    "Inbox",
    "Message",
    "NotifyPreference",
    "Participant",
    "PasswordReset",
    "Practice",
    "PracticeMember",
    "RecoveryCode",
    "Relative",
    "RuleFiring",
    "SenderKeyRecord",
    "SenderKeyWrap",
    "SentCount",
    "StoredRule",
    "StoredTemplate",
    "StreamPosition",
    "Thread",
    "Token",
    "User",
]

# SQLite only auto-increments INTEGER PRIMARY KEY columns.
Id = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Practitioners: when an admin checked their credentials (patients only
    # find and write to verified practitioners).
    verified_at: Mapped[int | None] = mapped_column(BigInteger)
    locale: Mapped[str] = mapped_column(String(8), server_default="fr")  # protocol.texts.Locale
    # Where a password reset link goes (``account.email``); None: no reset by email.
    email: Mapped[str | None] = mapped_column(String(254))
    # Set by an admin: no login, no session, no socket until reactivated.
    deactivated_at: Mapped[int | None] = mapped_column(BigInteger)
    # TOTP (RFC 6238): the shared secret once confirmed, one offered and not
    # yet confirmed, and the last time step a code was accepted for (no replay).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending: Mapped[str | None] = mapped_column(String(64))
    totp_step: Mapped[int] = mapped_column(BigInteger, server_default="0")
    birth_date: Mapped[str | None] = mapped_column(String(10))  # ISO 8601: patients found by it
    # The directory's number an admin verified the practitioner against (one account each).
    rpps: Mapped[str | None] = mapped_column(String(20))
    # Deleted by its owner: a tombstone others' conversations and the trails point at.
    deleted_at: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_users_rpps", "rpps", unique=True),)


class Device(Base):
    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[int | None] = mapped_column(BigInteger)


class Token(Base):
    """Bearer tokens, stored as SHA-256 of the secret (256 random bits)."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)


class HealthProfessional(Base):
    """One professional of the public directory (RPPS), as last imported."""

    __tablename__ = "health_professionals"
    rpps: Mapped[str] = mapped_column(String(20), primary_key=True)  # "Identifiant PP"
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    profession: Mapped[str] = mapped_column(String(100))
    specialty: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[int] = mapped_column(BigInteger)  # older than the last import: gone


class RecoveryCode(Base):
    """A one-time code that stands in for a TOTP code, stored as SHA-256."""

    __tablename__ = "recovery_codes"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    used_at: Mapped[int | None] = mapped_column(BigInteger)


class PasswordReset(Base):
    """A reset link sent by email: single-use, expiring, stored as SHA-256."""

    __tablename__ = "password_resets"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)


class AccountAuditRecord(Base):
    """One line of an account's append-only trail: what changed its
    password, second factor, sessions or standing, who did it, and when."""

    __tablename__ = "account_audit"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    at: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)  # None: the server itself
    detail: Mapped[str] = mapped_column(String(120), default="")
    __table_args__ = (Index("ix_account_audit_user", "user_id", "id"),)


class Thread(Base):
    __tablename__ = "threads"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # "kind:low_user:high_user" for practitioner pairs, so opening twice finds one.
    pair_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    reason: Mapped[str | None] = mapped_column(String(32))  # the patient's request reason
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # "for" a relative
    closed_at: Mapped[int | None] = mapped_column(BigInteger)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set by each care-side message: whether the patient may answer it.
    reply_allowed: Mapped[bool] = mapped_column(Boolean, default=True)


class Participant(Base):
    """Membership, with its window in the event stream and the member's receipts."""

    __tablename__ = "participants"
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    joined_at: Mapped[int] = mapped_column(BigInteger)
    joined_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    left_seq: Mapped[int | None] = mapped_column(BigInteger)
    delivered_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    read_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    muted: Mapped[bool] = mapped_column(Boolean, server_default=false())  # no push, no email
    __table_args__ = (Index("ix_participants_user", "user_id", "thread_id"),)


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # None for notices the server writes (auto-replies, closings): no device sent them.
    sender_device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    client_msg_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(32))
    reply_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    sent_at: Mapped[int] = mapped_column(BigInteger)
    # A retracted message keeps its place, sender and time; its envelope is emptied.
    retracted_at: Mapped[int | None] = mapped_column(BigInteger)
    # Past the chat retention (``storage.retention``): emptied the same way.
    expired_at: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (
        UniqueConstraint("thread_id", "seq", name="uq_messages_thread_seq"),
        UniqueConstraint("sender_device_id", "client_msg_id", name="uq_messages_client_msg"),
    )


class Event(Base):
    """A durable event. ``message.new`` rows point at the message instead of
    copying it; other types carry their MessagePack-encoded data."""

    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(32))
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        Index("ix_events_thread_seq", "thread_id", "seq"),
        Index("ix_events_user_seq", "user_id", "seq"),
    )


class DeviceList(Base):
    """A user's newest signed device list (``protocol.e2e.SignedDeviceList``),
    stored as published; the server verified its signature and version."""

    __tablename__ = "device_lists"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    signed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class SenderKeyRecord(Base):
    """A device's sender key for one thread (``protocol.e2e.SignedSenderKey``,
    as signed); ``sender_key_wraps`` holds the key sealed to each device it
    was distributed to, which are exactly the devices that may read with it."""

    __tablename__ = "sender_keys"
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    key_id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(BigInteger)


class SenderKeyWrap(Base):
    """A sender key sealed to one reading device (``crypto_box_seal``)."""

    __tablename__ = "sender_key_wraps"
    thread_id: Mapped[int] = mapped_column(Id, primary_key=True)
    sender_device_id: Mapped[int] = mapped_column(Id, primary_key=True)
    key_id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary(80))
    __table_args__ = (
        ForeignKeyConstraint(
            ["thread_id", "sender_device_id", "key_id"],
            ["sender_keys.thread_id", "sender_keys.device_id", "sender_keys.key_id"],
        ),
    )


class File(Base):
    """An encrypted document, uploaded for one thread. ``received`` counts the
    bytes stored so far; ``finished_at`` is set once size and hash matched."""

    __tablename__ = "files"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"))
    size: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)


class Practice(Base):
    """A cabinet: practitioners, assistants and bots working together."""

    __tablename__ = "practices"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    locale: Mapped[str] = mapped_column(String(8), server_default="fr")  # its bots' language


class PracticeMember(Base):
    __tablename__ = "practice_members"
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    added_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_practice_members_user", "user_id"),)


class PracticeInvitation(Base):
    """``user_id`` is asked to join ``practice_id``: a member only once they
    accept (``practice_members``), so nobody is put in a practice unasked."""

    __tablename__ = "practice_invitations"
    practice_id: Mapped[int] = mapped_column(ForeignKey("practices.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    invited_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    invited_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_practice_invitations_user", "user_id"),)


class CareInvitation(Base):
    """``practitioner_id`` asks ``patient_id`` to be their patient: a care
    relation only once the patient (or whoever manages their profile)
    accepts, so a practitioner cannot make anyone their patient unasked."""

    __tablename__ = "care_invitations"
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    invited_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_care_invitations_patient", "patient_id"),)


class CareRelation(Base):
    """``patient_id`` is "a patient of" ``practitioner_id``: added by the
    practitioner, or after a confirmed appointment (``source``)."""

    __tablename__ = "care_relations"
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_care_relations_patient", "patient_id"),)


class SentCount(Base):
    """How many messages a patient sent a practitioner in one hour
    (``hour``: ms since the epoch // 3,600,000): their daily limit sums the
    last 24 rows instead of counting messages. Hours past a day are pruned."""

    __tablename__ = "sent_counts"
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class BroadcastOptOut(Base):
    """``patient_id`` wants no more broadcasts from ``practitioner_id``."""

    __tablename__ = "broadcast_opt_outs"
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class PushSubscription(Base):
    """A device's Web Push subscription (one per device): where to push, and
    the keys the payload is encrypted to."""

    __tablename__ = "push_subscriptions"
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    p256dh: Mapped[str] = mapped_column(String(88))
    auth: Mapped[str] = mapped_column(String(24))
    preview: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # "web": endpoint is the push service's URL; "fcm", "apns": the app's token.
    platform: Mapped[str] = mapped_column(String(8), server_default="web")


class NotifyPreference(Base):
    """A person's ``protocol.push.NotifyPreferences``, MessagePack-encoded,
    and when they were last emailed about a waiting message."""

    __tablename__ = "notify_preferences"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    settings: Mapped[bytes] = mapped_column(LargeBinary)
    emailed_at: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class Relative(Base):
    """``manager_id`` (a patient) manages ``relative_id``'s profile (a child,
    a parent), with the consent they gave and when, until they withdraw."""

    __tablename__ = "relatives"
    manager_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    relative_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    relation: Mapped[str] = mapped_column(String(32))
    consent: Mapped[str] = mapped_column(String(500))
    consent_at: Mapped[int] = mapped_column(BigInteger)
    # The manager withdrew: the profile is theirs no more (the row stays, as a record).
    withdrawn_at: Mapped[int | None] = mapped_column(BigInteger)


class StoredDelegation(Base):
    """``principal_id`` (a practitioner) lets ``delegate_id`` (an assistant of
    a shared practice) act within ``scope``: the server's index of the
    delegates in the principal's signed device list. ``reads``: the scope
    has ``read``; the delegate then replays the principal's events after
    ``granted_seq``."""

    __tablename__ = "delegations"
    principal_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))
    reads: Mapped[bool] = mapped_column(Boolean)
    expires: Mapped[int | None] = mapped_column(BigInteger)
    granted_seq: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_delegations_delegate", "delegate_id"),)


class Agenda(Base):
    """A practitioner's ``protocol.booking.AgendaSettings``, MessagePack-encoded.
    Booking transactions lock this row first (``version``), so two holds
    for one practitioner never interleave, on any number of nodes."""

    __tablename__ = "agendas"
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    settings: Mapped[bytes] = mapped_column(LargeBinary)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class AgendaException(Base):
    """An absence, a block of time, or a one-off opening (``reasons``:
    visit reason codes joined by commas; empty: all)."""

    __tablename__ = "agenda_exceptions"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[int] = mapped_column(BigInteger)
    ends_at: Mapped[int] = mapped_column(BigInteger)
    reasons: Mapped[str] = mapped_column(String(1100), default="")
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_agenda_exceptions_practitioner", "practitioner_id", "ends_at"),)


class Appointment(Base):
    """A hold (``held`` until ``hold_expires_at``: then it frees its slot by
    itself), an appointment, or what became of it."""

    __tablename__ = "appointments"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[int] = mapped_column(BigInteger)
    ends_at: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    hold_expires_at: Mapped[int | None] = mapped_column(BigInteger)
    video: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    __table_args__ = (
        Index("ix_appointments_practitioner", "practitioner_id", "starts_at"),
        Index("ix_appointments_patient", "patient_id", "starts_at"),
    )


class Reminder(Base):
    """A reminder due ``offset_minutes`` before an appointment; ``sent_at``
    is set in the transaction that stores its event, so it goes out once."""

    __tablename__ = "reminders"
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), primary_key=True)
    offset_minutes: Mapped[int] = mapped_column(Integer, primary_key=True)
    due_at: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_reminders_due", "sent_at", "due_at"),)


class OutboxEntry(Base):
    """A notification for an email/SMS gateway to deliver (``delivered_at``).
    An attempt claims it until ``next_attempt_at``; a failed one leaves it
    for a later attempt, further off each time."""

    __tablename__ = "notification_outbox"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[bytes] = mapped_column(LargeBinary)  # JSON
    created_at: Mapped[int] = mapped_column(BigInteger)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[int] = mapped_column(BigInteger, server_default="0")
    __table_args__ = (Index("ix_notification_outbox_pending", "delivered_at", "next_attempt_at"),)


class Inbox(Base):
    """A practitioner's ``protocol.practice.InboxSettings``, MessagePack-encoded."""

    __tablename__ = "inboxes"
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    settings: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class StoredRule(Base):
    """A practitioner's vacation or auto-reply rule (``protocol.practice.Rule``,
    MessagePack-encoded; ``position`` orders evaluation)."""

    __tablename__ = "rules"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    rule: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class RuleFiring(Base):
    """An auto-reply sent: one per rule, thread and window (``occurrence``)."""

    __tablename__ = "rule_firings"
    rule_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    thread_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    occurrence: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    fired_at: Mapped[int] = mapped_column(BigInteger)


class StoredTemplate(Base):
    """A reply template (``protocol.practice.Template``, MessagePack-encoded),
    a practitioner's own (``owner_id``) or shared with a practice."""

    __tablename__ = "templates"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"), index=True)
    template: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class AuditRecord(Base):
    """One line of a thread's append-only trail (never updated or deleted)."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"))
    at: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    acting_for: Mapped[int | None] = mapped_column(BigInteger)
    seq: Mapped[int | None] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    rule_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(String(120), default="")
    __table_args__ = (
        Index("ix_audit_thread", "thread_id", "id"),
        # Filings, a few rows among many: how far each thread was filed (the
        # chat retention), and how far each device filed (``records.filings``).
        Index(
            "ix_audit_filed",
            "thread_id",
            "seq",
            sqlite_where=text("action = 'filed'"),
            postgresql_where=text("action = 'filed'"),
        ),
        Index(
            "ix_audit_filer",
            "actor_id",
            "thread_id",
            "seq",
            sqlite_where=text("action = 'filed'"),
            postgresql_where=text("action = 'filed'"),
        ),
    )


class StreamPosition(Base):
    """Named counters: ``events`` (last seq handed out, SQLite only) and
    ``events_floor`` (events at or below it were pruned)."""

    __tablename__ = "stream_positions"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


# Core handles on the tables, for the repositories' statements.
users = cast(Table, User.__table__)
devices = cast(Table, Device.__table__)
tokens = cast(Table, Token.__table__)
recovery_codes = cast(Table, RecoveryCode.__table__)
health_professionals = cast(Table, HealthProfessional.__table__)
password_resets = cast(Table, PasswordReset.__table__)
account_audit = cast(Table, AccountAuditRecord.__table__)
threads = cast(Table, Thread.__table__)
participants = cast(Table, Participant.__table__)
messages = cast(Table, Message.__table__)
events = cast(Table, Event.__table__)
stream_positions = cast(Table, StreamPosition.__table__)
device_lists = cast(Table, DeviceList.__table__)
files = cast(Table, File.__table__)
sender_keys = cast(Table, SenderKeyRecord.__table__)
sender_key_wraps = cast(Table, SenderKeyWrap.__table__)
practices = cast(Table, Practice.__table__)
practice_members = cast(Table, PracticeMember.__table__)
practice_invitations = cast(Table, PracticeInvitation.__table__)
care_invitations = cast(Table, CareInvitation.__table__)
care_relations = cast(Table, CareRelation.__table__)
inboxes = cast(Table, Inbox.__table__)
rules = cast(Table, StoredRule.__table__)
rule_firings = cast(Table, RuleFiring.__table__)
templates = cast(Table, StoredTemplate.__table__)
audit = cast(Table, AuditRecord.__table__)
broadcast_opt_outs = cast(Table, BroadcastOptOut.__table__)
sent_counts = cast(Table, SentCount.__table__)
push_subscriptions = cast(Table, PushSubscription.__table__)
notify_preferences = cast(Table, NotifyPreference.__table__)
relatives = cast(Table, Relative.__table__)
delegations = cast(Table, StoredDelegation.__table__)
agendas = cast(Table, Agenda.__table__)
agenda_exceptions = cast(Table, AgendaException.__table__)
appointments = cast(Table, Appointment.__table__)
reminders = cast(Table, Reminder.__table__)
notification_outbox = cast(Table, OutboxEntry.__table__)
