"""Reading a conversation on this device, for those who write it elsewhere:
a person's own export (``clients.export``) and a records device's filing
(``clients.records``). Messages come from ``messages.history`` as the
server keeps them, ciphertext; they are opened here, and their documents
downloaded and decrypted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from clients.e2e import Secure
from clients.fhir import Person, ReadDocument, ReadMessage
from protocol.e2e import DocumentRef
from protocol.methods import HistoryParams
from protocol.model import MessageData, ThreadInfo
from protocol.practice import Notice, UsersParams
from protocol.texts import DEFAULT_LOCALE, render

__all__ = [
    "Keep",
    "document",
    "history",
    "members",
    "people",
    "read_message",
    "sealed",
    "subject",
]

PAGE = 200

# What becomes of a decrypted document: (message id, its rank, its reference,
# its bytes) -> how the conversation names it.
Keep = Callable[[int, int, DocumentRef, bytes], ReadDocument]


async def history(secure: Secure, thread: int, after_seq: int = 0) -> list[MessageData]:
    """The thread's messages past ``after_seq``, oldest first."""
    pages: list[MessageData] = []
    before = None
    while True:
        page = await secure.client.call("messages.history", HistoryParams(thread, before, PAGE))
        pages.extend(m for m in page.messages if m.thread_seq > after_seq)
        last = page.messages[-1].thread_seq if page.messages else 0
        if not page.has_more or last <= after_seq + 1:
            return sorted(pages, key=lambda m: m.thread_seq)
        before = last


async def read_message(secure: Secure, message: MessageData, keep: Keep) -> ReadMessage:
    """The message opened on this device, its documents kept by ``keep``;
    ``E2EError`` if this device cannot open it."""
    if message.retracted or message.expired:  # its place stays, not its words
        notice = message.sender_device is None  # an expired notice is still the server's
        return _read_as(message, "", notice=notice, expired=message.expired)
    opened = await secure.read(message)
    if isinstance(opened, Notice):
        return _read_as(message, _notice_text(opened), notice=True)
    documents = [
        keep(message.id, n, ref, await secure.download(ref))
        for n, ref in enumerate(opened.body.documents)
    ]
    return _read_as(message, opened.body.text, documents)


def sealed(message: MessageData) -> ReadMessage:
    """A message this device cannot open, in its place."""
    return _read_as(message, "", sealed=True)


def document(ref: DocumentRef, data: bytes, url: str = "", inline: bool = False) -> ReadDocument:
    """A decrypted document as a conversation names it: at ``url``, or
    carried whole (``inline``)."""
    sha1 = hashlib.sha1(data).digest()  # FHIR's Attachment.hash is SHA-1
    return ReadDocument(ref.name, ref.mime, len(data), sha1, url, data if inline else None)


def members(thread: ThreadInfo) -> list[Person]:
    return [Person(m.user, m.name, m.role.value) for m in thread.members]


def subject(thread: ThreadInfo, present: list[Person], names: dict[int, str]) -> Person | None:
    """The patient the conversation is about: its relative (named from
    ``names`` if known), else its one patient member (a care team's group
    with several is about none)."""
    if thread.subject is not None:
        return Person(thread.subject, names.get(thread.subject, ""), "patient")
    patients = [m for m in present if m.role == "patient"]
    return patients[0] if len(patients) == 1 else None


async def people(secure: Secure, users: Iterable[int]) -> list[Person]:
    """Who wrote and left, as ``users.get`` shows them, else by number."""
    wanted = sorted(set(users))
    if not wanted:
        return []
    answer = await secure.client.call("users.get", UsersParams(wanted))
    shown = {profile.user: profile for profile in answer.users}
    return [
        Person(u, shown[u].name, shown[u].role.value) if u in shown else Person(u, "", "patient")
        for u in wanted
    ]


def _notice_text(notice: Notice) -> str:
    """A server notice as the app shows it (an auto-reply's own words as written)."""
    if notice.text:
        return notice.text
    return render(
        DEFAULT_LOCALE,
        f"notice.{notice.kind.value}",
        by=f"n° {notice.by}",
        user=f"n° {notice.user}",
    )


def _read_as(
    message: MessageData,
    text: str,
    documents: list[ReadDocument] | None = None,
    notice: bool = False,
    sealed: bool = False,
    expired: bool = False,
) -> ReadMessage:
    place = (message.id, message.thread_seq, message.sender, message.sent_at)
    return ReadMessage(*place, text, documents or [], notice, sealed, expired)
