"""Parameters and results of every method callable with a ``call`` frame."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta, Struct

from protocol.account import ACCOUNT_METHODS
from protocol.booking import BOOKING_METHODS
from protocol.e2e import MAX_SENDER_KEY_DEVICES, KeyId, Recipient, WrappedKey
from protocol.model import (
    BirthDate,
    ClientMsgId,
    Empty,
    Id,
    MessageData,
    Natural,
    PresenceStatus,
    Role,
    ThreadInfo,
    ThreadKind,
)
from protocol.practice import PRACTICE_METHODS, Code
from protocol.push import PUSH_METHODS
from protocol.records import RECORDS_METHODS
from protocol.texts import Locale

__all__ = [
    "METHODS",
    "AccountInfo",
    "AccountParams",
    "AttachmentBeginParams",
    "AttachmentBeginResult",
    "AttachmentChunkParams",
    "AttachmentChunkResult",
    "AttachmentFileParams",
    "AttachmentReadParams",
    "AttachmentReadResult",
    "Empty",
    "FileInfo",
    "HistoryParams",
    "HistoryResult",
    "KeysDistributeParams",
    "KeysDistributeResult",
    "KeysFetchParams",
    "KeysFetchResult",
    "KeysPublishParams",
    "KeysPublishResult",
    "KeysSenderKeyParams",
    "KeysSenderKeyResult",
    "MethodSpec",
    "PresenceEntry",
    "PresenceListResult",
    "PresenceSetParams",
    "PublishedList",
    "ReceiptParams",
    "SendParams",
    "SendResult",
    "ThreadMemberParams",
    "ThreadParams",
    "ThreadsListResult",
    "ThreadsOpenParams",
    "TypingParams",
]

Kind = Annotated[str, Meta(min_length=1, max_length=32, pattern=r"^[a-z0-9_.]+$")]


class ThreadsOpenParams(Struct, omit_defaults=True):
    """Open a thread with ``members`` (the caller is added). A patient opens
    one thread per request, with one of the practitioner's request
    ``reason`` codes; opening a practitioners' thread that already exists
    returns the existing one."""

    kind: ThreadKind
    members: Annotated[list[Id], Meta(min_length=1, max_length=256)]
    reason: Code | None = None
    subject: Id | None = None  # a relative the patient manages: the thread is for them


class ThreadParams(Struct):
    thread: Id


class ThreadMemberParams(Struct):
    thread: Id
    user: Id


class ThreadsListResult(Struct):
    threads: list[ThreadInfo]


class SendParams(Struct, omit_defaults=True):
    thread: Id
    client_msg_id: ClientMsgId
    envelope: bytes
    kind: Kind = "text"
    reason: Kind | None = None
    reply_allowed: bool = True  # care side: whether the patient may answer this message
    close_thread: bool = False  # care side: close the thread with this message


class SendResult(Struct):
    message_id: int
    thread_seq: int
    sent_at: int
    duplicate: bool = False  # True when client_msg_id was already stored


class HistoryParams(Struct, omit_defaults=True):
    """Messages of a thread, newest first, older than ``before_seq`` if given."""

    thread: Id
    before_seq: Natural | None = None
    limit: Annotated[int, Meta(ge=1, le=200)] = 50


class HistoryResult(Struct):
    messages: list[MessageData]
    has_more: bool


class ReceiptParams(Struct):
    """Mark every message of ``thread`` up to ``thread_seq`` delivered (or read)."""

    thread: Id
    thread_seq: Id


class PresenceSetParams(Struct):
    status: PresenceStatus
    foreground: bool = False  # this session shows popups (``notify`` events)


class PresenceEntry(Struct, omit_defaults=True):
    user: int
    status: PresenceStatus
    last_seen: int | None = None


class PresenceListResult(Struct):
    contacts: list[PresenceEntry]


class TypingParams(Struct):
    thread: Id
    active: bool = True


class KeysPublishParams(Struct):
    """A new signed device list (``protocol.e2e.SignedDeviceList`` bytes)."""

    list: bytes


class KeysPublishResult(Struct):
    version: int


class KeysFetchParams(Struct):
    users: Annotated[list[Id], Meta(min_length=1, max_length=256)]


class PublishedList(Struct):
    user: int
    list: bytes  # ``protocol.e2e.SignedDeviceList``, as the user signed it


class KeysFetchResult(Struct):
    lists: list[PublishedList]  # users without one (or out of sight) are left out


class KeysDistributeParams(Struct):
    """This device's new sender key for ``thread``: the signed
    ``protocol.e2e.SignedSenderKey`` and the key sealed to each device of the
    thread's readers, exactly those (as a version 1 envelope's recipients)."""

    thread: Id
    key: bytes
    recipients: Annotated[list[Recipient], Meta(min_length=1, max_length=MAX_SENDER_KEY_DEVICES)]


class KeysDistributeResult(Struct):
    duplicate: bool = False  # this very key was stored before (a retried call)


class KeysSenderKeyParams(Struct):
    """The sender key ``device`` distributed in ``thread`` as ``key_id`` (a
    version 2 header's ``sender_key``), for the calling device."""

    thread: Id
    device: Id
    key_id: KeyId


class KeysSenderKeyResult(Struct):
    key: bytes  # ``protocol.e2e.SignedSenderKey``, as the sender signed it
    wrapped: WrappedKey  # the key, sealed to the calling device


FileId = Annotated[str, Meta(min_length=32, max_length=32, pattern=r"^[0-9a-f]+$")]


class AttachmentBeginParams(Struct):
    """Start (or resume) uploading an encrypted document for ``thread``."""

    thread: Id
    size: Id  # ciphertext bytes
    hash: Annotated[bytes, Meta(min_length=32, max_length=32)]  # BLAKE2b-256 of the ciphertext


class AttachmentBeginResult(Struct):
    file: str
    received: int  # bytes already stored: continue from here
    chunk_bytes: int  # the largest chunk accepted


class AttachmentChunkParams(Struct):
    file: FileId
    offset: Natural
    data: Annotated[bytes, Meta(min_length=1)]


class AttachmentChunkResult(Struct):
    received: int


class AttachmentFileParams(Struct):
    file: FileId


class FileInfo(Struct):
    """A finished upload: refer to ``file`` in the encrypted message body."""

    file: str
    thread: int
    size: int
    hash: bytes


class AttachmentReadParams(Struct):
    file: FileId
    offset: Natural = 0
    length: Id = 64 * 1024


class AttachmentReadResult(Struct):
    data: bytes
    size: int  # of the whole file


class AccountParams(Struct, omit_defaults=True):
    """What changes (absent: unchanged)."""

    locale: Locale | None = None  # the language carehub speaks to this user in
    birth_date: BirthDate | None = None  # a patient's: how their practitioners find them


class AccountInfo(Struct, omit_defaults=True):
    user: int
    name: str
    role: Role
    locale: Locale
    birth_date: str | None = None


@dataclass(frozen=True, slots=True)
class MethodSpec:
    params: type[Struct]
    result: type[Struct]


METHODS: dict[str, MethodSpec] = {
    "threads.open": MethodSpec(ThreadsOpenParams, ThreadInfo),
    "threads.list": MethodSpec(Empty, ThreadsListResult),
    "threads.close": MethodSpec(ThreadParams, ThreadInfo),
    "threads.reopen": MethodSpec(ThreadParams, ThreadInfo),
    "threads.add_member": MethodSpec(ThreadMemberParams, ThreadInfo),
    "threads.remove_member": MethodSpec(ThreadMemberParams, ThreadInfo),
    "messages.send": MethodSpec(SendParams, SendResult),
    "messages.history": MethodSpec(HistoryParams, HistoryResult),
    "receipts.delivered": MethodSpec(ReceiptParams, Empty),
    "receipts.read": MethodSpec(ReceiptParams, Empty),
    "presence.set": MethodSpec(PresenceSetParams, Empty),
    "presence.list": MethodSpec(Empty, PresenceListResult),
    "typing": MethodSpec(TypingParams, Empty),
    "keys.publish": MethodSpec(KeysPublishParams, KeysPublishResult),
    "keys.fetch": MethodSpec(KeysFetchParams, KeysFetchResult),
    "keys.distribute": MethodSpec(KeysDistributeParams, KeysDistributeResult),
    "keys.sender_key": MethodSpec(KeysSenderKeyParams, KeysSenderKeyResult),
    "attachments.begin": MethodSpec(AttachmentBeginParams, AttachmentBeginResult),
    "attachments.chunk": MethodSpec(AttachmentChunkParams, AttachmentChunkResult),
    "attachments.finish": MethodSpec(AttachmentFileParams, FileInfo),
    "attachments.read": MethodSpec(AttachmentReadParams, AttachmentReadResult),
    "account.get": MethodSpec(Empty, AccountInfo),
    "account.set": MethodSpec(AccountParams, AccountInfo),
    **{name: MethodSpec(*types) for name, types in PRACTICE_METHODS.items()},
    **{name: MethodSpec(*types) for name, types in BOOKING_METHODS.items()},
    **{name: MethodSpec(*types) for name, types in PUSH_METHODS.items()},
    **{name: MethodSpec(*types) for name, types in ACCOUNT_METHODS.items()},
    **{name: MethodSpec(*types) for name, types in RECORDS_METHODS.items()},
}
