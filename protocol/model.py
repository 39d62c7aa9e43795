"""Shared vocabulary: roles, thread kinds and the records both ends exchange."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta, Struct

__all__ = [
    "MAX_INT",
    "MAX_MS",
    "NO_NUL",
    "BirthDate",
    "ClientMsgId",
    "Empty",
    "Id",
    "Member",
    "MessageData",
    "Ms",
    "Natural",
    "PresenceStatus",
    "Role",
    "ThreadInfo",
    "ThreadKind",
]


# A person's date of birth, as ISO 8601 (``1987-04-12``); the server also
# refuses a day that does not exist or has not come yet (``invalid``).
BirthDate = Annotated[
    str, Meta(pattern=r"^(18|19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
]


class Role(StrEnum):
    PATIENT = "patient"
    PRACTITIONER = "practitioner"
    ASSISTANT = "assistant"
    BOT = "bot"
    ADMIN = "admin"


class ThreadKind(StrEnum):
    PATIENT_PRACTITIONER = "patient_practitioner"
    PRACTITIONER_PRACTITIONER = "practitioner_practitioner"
    GROUP = "group"


class PresenceStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


# Text a client sends holds no NUL character: PostgreSQL's text cannot store
# one, and nobody types one.
NO_NUL = Meta(pattern=r"^[^\x00]*$")
ClientMsgId = Annotated[str, Meta(min_length=1, max_length=64), NO_NUL]
# Every integer a client sends is bounded. 2**53 - 1 is the largest integer
# JavaScript reads exactly, and it sits well inside SQL's BIGINT: an id past
# it is refused at the edge (``invalid``) instead of overflowing a driver.
MAX_INT = 2**53 - 1
Id = Annotated[int, Meta(ge=1, le=MAX_INT)]
Natural = Annotated[int, Meta(ge=0, le=MAX_INT)]  # a count, an offset, a position, a cursor
MAX_MS = 7_258_118_400_000  # 2200-01-01: past it, a time is a client's bug
Ms = Annotated[int, Meta(ge=0, lt=MAX_MS)]  # a time, in ms since the Unix epoch


class Empty(Struct):
    pass


class Member(Struct, omit_defaults=True):
    user: int
    role: Role
    name: str
    # In a ThreadInfo: how far this member's receipts reached (a client that
    # reloads shows "read" without waiting for the next receipt event).
    delivered_seq: int = 0
    read_seq: int = 0


class MessageData(Struct, omit_defaults=True):
    """A stored message as a recipient sees it. ``envelope`` is opaque ciphertext."""

    id: int
    thread: int
    thread_seq: int  # its position in the thread (not an event's ``seq`` in the stream)
    sender: int
    sender_device: int | None  # None: a notice the server wrote (kind "notice")
    client_msg_id: str
    kind: str
    envelope: bytes
    sent_at: int
    reply_allowed: bool = True
    reason: str | None = None
    retracted: bool = False  # its sender withdrew it: ``envelope`` is empty
    expired: bool = False  # past the chat retention: ``envelope`` is empty


class ThreadInfo(Struct, omit_defaults=True):
    id: int
    kind: ThreadKind
    members: list[Member]
    created_by: int
    created_at: int
    last_seq: int = 0
    read_seq: int = 0  # the caller's own receipts
    delivered_seq: int = 0
    unread: int = 0
    reason: str | None = None  # the patient's request reason
    subject: int | None = None  # the relative the thread is about
    closed: bool = False  # no more replies until a practitioner reopens it
    reply_allowed: bool = True  # whether the care side's latest message takes a reply
    via: int | None = None  # a delegate sees it as this practitioner's (receipts are theirs)
    last_at: int | None = None  # when its latest message was sent: the inbox's order
    muted: bool = False  # the caller muted it: no push, no email for it
