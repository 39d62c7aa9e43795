"""The data carried by each ``event`` type.

Durable events (stored, carry a ``seq``, replayed on resume): ``message.new``,
``receipt``, ``thread.updated``, ``keys.updated``, ``inbox.updated`` and
``rules.updated`` (a practitioner's own settings, to their other devices),
``account.verified``, ``delegation.updated``, ``practice.invited``,
``practice.updated``, ``care.invited``, ``patient.added``, and the booking
events.
Ephemeral events (no ``seq``): ``presence``,
``typing``, ``notify``, ``sync.reset``.
"""

from __future__ import annotations

import msgspec
from msgspec import Struct

from protocol.booking import BOOKING_EVENTS
from protocol.model import MessageData, PresenceStatus, ThreadInfo
from protocol.practice import (
    AccountVerified,
    CareInvitation,
    Delegation,
    InboxSettings,
    PatientInfo,
    PracticeInfo,
    PracticeInvitation,
    RulesResult,
)

__all__ = [
    "DURABLE_EVENTS",
    "EVENTS",
    "KeysUpdated",
    "Notify",
    "PresenceChanged",
    "ReceiptUpdated",
    "SyncReset",
    "TypingChanged",
]


class ReceiptUpdated(Struct):
    thread: int
    user: int
    delivered_seq: int
    read_seq: int


class PresenceChanged(Struct, omit_defaults=True):
    user: int
    status: PresenceStatus
    last_seen: int | None = None


class TypingChanged(Struct):
    thread: int
    user: int
    active: bool


class Notify(Struct, omit_defaults=True):
    """A popup for a foreground session: a new message and the unread count."""

    thread: int
    sender: int = msgspec.field(name="from")
    unread: int = 0
    reason: str | None = None


class KeysUpdated(Struct, omit_defaults=True):
    """``user`` published a new device list: fetch it (``keys.fetch``) and
    verify it before the next send. ``identity_changed`` is a hint only; the
    client's own pinning decides."""

    user: int
    version: int
    identity_changed: bool = False


class SyncReset(Struct):
    """The resume cursor is past retention: reload threads and history, then
    continue from ``cursor``."""

    cursor: int


EVENTS: dict[str, type[Struct]] = {
    "message.new": MessageData,
    "receipt": ReceiptUpdated,
    "thread.updated": ThreadInfo,
    "presence": PresenceChanged,
    "typing": TypingChanged,
    "notify": Notify,
    "sync.reset": SyncReset,
    "keys.updated": KeysUpdated,
    "inbox.updated": InboxSettings,
    "rules.updated": RulesResult,
    "account.verified": AccountVerified,
    "delegation.updated": Delegation,
    "practice.invited": PracticeInvitation,
    "practice.updated": PracticeInfo,
    "care.invited": CareInvitation,
    "patient.added": PatientInfo,
    **BOOKING_EVENTS,
}

DURABLE_EVENTS = frozenset(
    {
        "message.new",
        "receipt",
        "thread.updated",
        "keys.updated",
        "inbox.updated",
        "rules.updated",
        "account.verified",
        "delegation.updated",
        "practice.invited",
        "practice.updated",
        "care.invited",
        "patient.added",
        *BOOKING_EVENTS,
    }
)
