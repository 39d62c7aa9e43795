"""Conversations as FHIR R4 resources, made on the device that decrypted
them (the server never sees a body): a ``Communication`` per message, a
``DocumentReference`` per document, ``Patient`` / ``Practitioner`` /
``Device`` (a bot) for the people; in a ``collection`` Bundle for a
person's export, in a ``transaction`` Bundle for a records device filing
into the practice's FHIR server (``docs/records.md``).

Every resource is validated with ``fhir.resources`` (its R4B models: FHIR
4.3, whose Communication, DocumentReference, Patient, Practitioner, Device
and Bundle are those of R4) before it leaves this module: an export or a
filing never carries a resource a FHIR server would refuse.

A thread is a conversation: each message's ``partOf`` names the thread's
first message and ``inResponseTo`` the message before it; ``topic`` is the
request reason. References between entries are ``urn:uuid:`` URLs made
from carehub's ids: the same on every export, so two exports' resources
are recognisably the same ones. A message filed earlier is not in the
bundle: it is referred to by its identifier (a conditional reference,
which the FHIR server resolves).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

__all__ = [
    "Conversation",
    "Person",
    "ReadDocument",
    "ReadMessage",
    "bundle",
    "conversation_resources",
    "reference",
    "transaction",
    "validated",
]

CAREHUB = uuid.UUID("6f0d3c1e-2b9a-4c3e-9d1f-5a7b8c9d0e1f")  # the namespace of our urn:uuid
SYSTEM = "urn:carehub"  # identifiers: urn:carehub:user, urn:carehub:message, ...
RETRACTED = "Message retiré par son auteur / retracted by its sender"
SEALED = "Message illisible sur l'appareil qui l'a classé / not readable on the filing device"
EXPIRED = "Message effacé de la messagerie après sa durée de conservation / past the chat retention"
# How each kind is identified: by carehub's user, message or document.
IDENTIFIED_BY = {
    "Patient": "user",
    "Practitioner": "user",
    "Device": "user",
    "Communication": "message",
    "DocumentReference": "document",
}


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    role: str  # patient, practitioner, assistant, bot, admin


@dataclass(frozen=True, slots=True)
class ReadDocument:
    """A document as decrypted on this device."""

    name: str
    mime: str
    size: int
    sha1: bytes  # of the plaintext: FHIR's ``Attachment.hash``
    url: str = ""  # where the file is (an archive's relative path), if it is elsewhere
    data: bytes | None = None  # the file itself, carried in its DocumentReference


@dataclass(frozen=True, slots=True)
class ReadMessage:
    id: int
    thread_seq: int
    sender: int
    sent_at: int  # ms UTC
    text: str
    documents: Sequence[ReadDocument] = ()
    notice: bool = False  # written by the server (an auto-reply, a closing), not a person
    sealed: bool = False  # this device cannot open it: its place, not its words
    expired: bool = False  # past the chat retention: its place, not its words


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    reason: str | None
    members: Sequence[Person]
    subject: Person | None  # the patient it is about: a relative, else its one patient member
    messages: Sequence[ReadMessage] = field(default_factory=tuple)
    former: Sequence[Person] = ()  # who wrote in it and is no longer a member
    earlier: Sequence[int] = ()  # messages before ``messages``, filed already (their ids)


def reference(kind: str, carehub_id: int | str) -> str:
    """The ``urn:uuid:`` of carehub's ``kind`` ``carehub_id`` (``Patient``, 12)."""
    return f"urn:uuid:{uuid.uuid5(CAREHUB, f'{kind}/{carehub_id}')}"


def identified(kind: str, carehub_id: int | str) -> str:
    """A conditional reference to carehub's ``kind`` ``carehub_id`` by its
    identifier (``Communication?identifier=urn:carehub:message|12``)."""
    return f"{kind}?identifier={SYSTEM}:{IDENTIFIED_BY[kind]}|{carehub_id}"


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource``, once its FHIR model accepts it (else ``ValueError``)."""
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)  # pydantic: raises ValidationError, a ValueError
    return resource


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def _kind(person: Person) -> str:
    return {"patient": "Patient", "bot": "Device"}.get(person.role, "Practitioner")


def _name(person: Person) -> str:
    return person.name.strip() or f"n° {person.id}"  # FHIR strings are never empty


def _person(person: Person) -> dict[str, Any]:
    identifier = [{"system": f"{SYSTEM}:user", "value": str(person.id)}]
    if _kind(person) == "Device":
        return {
            "resourceType": "Device",
            "identifier": identifier,
            "deviceName": [{"name": _name(person), "type": "user-friendly-name"}],
        }
    return {
        "resourceType": _kind(person),
        "identifier": identifier,
        "name": [{"text": _name(person)}],
    }


def _attachment(document: ReadDocument, whole: bool = False) -> dict[str, Any]:
    """The document's attachment; ``whole``: with its bytes, if carried."""
    attachment: dict[str, Any] = {
        "contentType": document.mime.strip() or "application/octet-stream",
        "title": document.name.strip() or "document",
        "size": document.size,
        "hash": base64.b64encode(document.sha1).decode(),
    }
    if document.url:
        attachment["url"] = document.url
    if whole and document.data is not None:
        attachment["data"] = base64.b64encode(document.data).decode()
    return attachment


def _communication(
    talk: Conversation,
    message: ReadMessage,
    thread: tuple[str | None, str | None],
    people: dict[int, Person],
) -> dict[str, Any]:
    """``message`` of ``talk``; ``thread``: references to the conversation's
    first message and to the one before (None: this is the first)."""
    part_of, before = thread
    sender = people[message.sender]
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "identifier": [{"system": f"{SYSTEM}:message", "value": str(message.id)}],
        "status": "completed",
        "sent": _when(message.sent_at),
        "sender": {"reference": reference(_kind(sender), sender.id), "display": _name(sender)},
        "recipient": [
            {"reference": reference(_kind(p), p.id), "display": _name(p)}
            for p in talk.members
            if p.id != message.sender
        ],
        "payload": [
            *([{"contentString": message.text}] if message.text else []),
            *({"contentAttachment": _attachment(d)} for d in message.documents),
        ],
    }
    if talk.subject is not None:
        resource["subject"] = {"reference": reference("Patient", talk.subject.id)}
    if talk.reason:
        coding = {"system": f"{SYSTEM}:reason", "code": talk.reason}
        resource["topic"] = {"coding": [coding], "text": talk.reason}
    if part_of is not None:
        resource["partOf"] = [{"reference": part_of}]
    if before is not None:
        resource["inResponseTo"] = [{"reference": before}]
    if message.sealed or message.expired:  # it was sent: that is all this device knows
        del resource["payload"]
        resource["status"] = "unknown"
        resource["note"] = [{"text": SEALED if message.sealed else EXPIRED}]
    elif not resource["payload"]:  # a retracted message: its place, not its words
        del resource["payload"]
        resource["status"] = "entered-in-error"
        resource["note"] = [{"text": RETRACTED}]
    return resource


def _document_reference(
    talk: Conversation,
    message: ReadMessage,
    rank: int,
    people: dict[int, Person],
) -> dict[str, Any]:
    author = people[message.sender]
    document = message.documents[rank]
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "identifier": [{"system": f"{SYSTEM}:document", "value": f"{message.id}-{rank}"}],
        "status": "current",
        "date": _when(message.sent_at),
        "description": document.name.strip() or "document",
        "author": [{"reference": reference(_kind(author), author.id), "display": _name(author)}],
        "content": [{"attachment": _attachment(document, whole=True)}],
        "context": {"related": [{"reference": reference("Communication", message.id)}]},
    }
    if talk.subject is not None:
        resource["subject"] = {"reference": reference("Patient", talk.subject.id)}
    return resource


def conversation_resources(talk: Conversation) -> list[tuple[str, dict[str, Any]]]:
    """Each resource of ``talk`` with its ``urn:uuid:``, every one validated:
    the people, then each person's message and its documents, in order."""
    people = {person.id: person for person in (*talk.members, *talk.former)}
    about = [talk.subject] if talk.subject and talk.subject.id not in people else []
    made = [(reference(_kind(p), p.id), _person(p)) for p in (*people.values(), *about)]
    # A server notice (an auto-reply, a closing) is not a communication between people.
    spoken = [m for m in talk.messages if m.sender in people and not m.notice]
    for i, message in enumerate(spoken):
        communication = _communication(talk, message, _thread(talk, spoken, i), people)
        made.append((reference("Communication", message.id), communication))
        for n in range(len(message.documents)):
            resource = _document_reference(talk, message, n, people)
            made.append((reference("DocumentReference", f"{message.id}-{n}"), resource))
    return [(url, validated(resource)) for url, resource in made]


def _thread(talk: Conversation, spoken: list[ReadMessage], i: int) -> tuple[str | None, str | None]:
    """References to the conversation's first message and to the one before
    ``spoken[i]``: in this bundle, or filed earlier (by identifier)."""
    first: str | None
    before: str | None
    if talk.earlier:
        first = identified("Communication", talk.earlier[0])
        before = identified("Communication", talk.earlier[-1])
    else:
        first = None if i == 0 else reference("Communication", spoken[0].id)
        before = None
    if i:
        before = reference("Communication", spoken[i - 1].id)
    return first, before


def bundle(entries: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """A ``collection`` Bundle of ``entries``, each once (a person in several
    conversations is one entry), validated."""
    listed = [{"fullUrl": url, "resource": resource} for url, resource in dict(entries).items()]
    return validated({"resourceType": "Bundle", "type": "collection", "entry": listed})


def transaction(entries: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """A ``transaction`` Bundle filing ``entries`` so that filing them again
    changes nothing: a person is created if no resource has their
    identifier yet (``ifNoneExist``), a message or document is created or
    updated by its identifier (a conditional update). All or nothing.

    Each Bundle gets an identifier of its own, 122 random bits: a digest of
    it (``records.filed``) then tells the server nothing it could confirm a
    guessed message with."""
    listed = [
        {"fullUrl": url, "resource": resource, "request": _request(resource)}
        for url, resource in dict(entries).items()
    ]
    filing = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
    return validated(
        {"resourceType": "Bundle", "identifier": filing, "type": "transaction", "entry": listed}
    )


def _request(resource: dict[str, Any]) -> dict[str, str]:
    kind = resource["resourceType"]
    identifier = resource["identifier"][0]
    search = f"identifier={identifier['system']}|{identifier['value']}"
    if IDENTIFIED_BY[kind] == "user":
        return {"method": "POST", "url": kind, "ifNoneExist": search}
    return {"method": "PUT", "url": f"{kind}?{search}"}
