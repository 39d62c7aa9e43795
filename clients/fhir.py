"""Conversations as FHIR R4 resources, made on the device that decrypted
them (the server never sees a body): a ``Communication`` per message, a
``DocumentReference`` per document, ``Patient`` / ``Practitioner`` /
``Device`` (a bot) for the people, in a ``Bundle``.

Every resource is validated with ``fhir.resources`` (its R4B models: FHIR
4.3, whose Communication, DocumentReference, Patient, Practitioner, Device
and Bundle are those of R4) before it leaves this module: an export or a
filing never carries a resource a FHIR server would refuse.

A thread is a conversation: each message's ``partOf`` names the thread's
first message and ``inResponseTo`` the message before it; ``topic`` is the
request reason. References between entries are ``urn:uuid:`` URLs made
from carehub's ids: the same on every export, so two exports' resources
are recognisably the same ones.
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
    "validated",
]

CAREHUB = uuid.UUID("6f0d3c1e-2b9a-4c3e-9d1f-5a7b8c9d0e1f")  # the namespace of our urn:uuid
SYSTEM = "urn:carehub"  # identifiers: urn:carehub:user, urn:carehub:message, ...
RETRACTED = "Message retiré par son auteur / retracted by its sender"


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
    url: str  # where the file is (an archive's relative path, a FHIR Binary, ...)


@dataclass(frozen=True, slots=True)
class ReadMessage:
    id: int
    thread_seq: int
    sender: int
    sent_at: int  # ms UTC
    text: str
    documents: Sequence[ReadDocument] = ()
    notice: bool = False  # written by the server (an auto-reply, a closing), not a person


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    reason: str | None
    members: Sequence[Person]
    subject: Person | None  # the patient it is about: a relative, else its one patient member
    messages: Sequence[ReadMessage] = field(default_factory=tuple)
    former: Sequence[Person] = ()  # who wrote in it and is no longer a member


def reference(kind: str, carehub_id: int | str) -> str:
    """The ``urn:uuid:`` of carehub's ``kind`` ``carehub_id`` (``Patient``, 12)."""
    return f"urn:uuid:{uuid.uuid5(CAREHUB, f'{kind}/{carehub_id}')}"


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


def _attachment(document: ReadDocument) -> dict[str, Any]:
    return {
        "contentType": document.mime.strip() or "application/octet-stream",
        "url": document.url,
        "title": document.name.strip() or "document",
        "size": document.size,
        "hash": base64.b64encode(document.sha1).decode(),
    }


def _communication(
    talk: Conversation,
    message: ReadMessage,
    thread: tuple[ReadMessage, ReadMessage | None],
    people: dict[int, Person],
) -> dict[str, Any]:
    """``message`` of ``talk``; ``thread``: the conversation's first message and the one before."""
    first, before = thread
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
    if first.id != message.id:
        resource["partOf"] = [{"reference": reference("Communication", first.id)}]
    if before is not None:
        resource["inResponseTo"] = [{"reference": reference("Communication", before.id)}]
    if not resource["payload"]:  # a retracted message: its place, not its words
        del resource["payload"]
        resource["status"] = "entered-in-error"
        resource["note"] = [{"text": RETRACTED}]
    return resource


def _document_reference(
    talk: Conversation, message: ReadMessage, document: ReadDocument, people: dict[int, Person]
) -> dict[str, Any]:
    author = people[message.sender]
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "status": "current",
        "date": _when(message.sent_at),
        "description": document.name.strip() or "document",
        "author": [{"reference": reference(_kind(author), author.id), "display": _name(author)}],
        "content": [{"attachment": _attachment(document)}],
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
        thread = (spoken[0], spoken[i - 1] if i else None)
        communication = _communication(talk, message, thread, people)
        made.append((reference("Communication", message.id), communication))
        for n, document in enumerate(message.documents):
            resource = _document_reference(talk, message, document, people)
            made.append((reference("DocumentReference", f"{message.id}-{n}"), resource))
    return [(url, validated(resource)) for url, resource in made]


def bundle(entries: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """A ``collection`` Bundle of ``entries``, each once (a person in several
    conversations is one entry), validated."""
    listed = [{"fullUrl": url, "resource": resource} for url, resource in dict(entries).items()]
    return validated({"resourceType": "Bundle", "type": "collection", "entry": listed})
