"""Conversations as FHIR resources (``clients.fhir``): what each message
becomes, a thread's links, and a resource the model refuses."""

from __future__ import annotations

import pytest

from clients.fhir import (
    Conversation,
    Person,
    ReadDocument,
    ReadMessage,
    bundle,
    conversation_resources,
    identified,
    reference,
    transaction,
    validated,
)

ANA, DOCTOR, BOT = (
    Person(1, "Ana", "patient"),
    Person(2, "Dr Roux", "practitioner"),
    Person(3, "Rappels", "bot"),
)
LEO = Person(9, "Léo", "patient")  # a relative: not a member of the thread
SCAN = ReadDocument("radio.png", "image/png", 3, b"\x01" * 20, "documents/1-0-radio.png")


def _talk(*messages: ReadMessage, subject: Person | None = LEO) -> Conversation:
    return Conversation(7, "after_visit", [ANA, DOCTOR, BOT], subject, messages)


def test_each_kind_of_person_and_the_relative_it_is_about() -> None:
    kinds = {url: r["resourceType"] for url, r in conversation_resources(_talk())}
    assert kinds == {
        reference("Patient", 1): "Patient",
        reference("Practitioner", 2): "Practitioner",
        reference("Device", 3): "Device",
        reference("Patient", 9): "Patient",
    }


def test_a_thread_is_linked_notices_are_left_out_and_a_retraction_keeps_its_place() -> None:
    talk = _talk(
        ReadMessage(10, 1, 0, 1_700_000_000_000, "Urgences : 15", notice=True),
        ReadMessage(11, 2, 1, 1_700_000_001_000, "Léo tousse."),
        ReadMessage(12, 3, 2, 1_700_000_002_000, "", [SCAN]),
        ReadMessage(13, 4, 1, 1_700_000_003_000, ""),  # retracted
    )
    made = dict(conversation_resources(talk))
    first, second, retracted = (made[reference("Communication", n)] for n in (11, 12, 13))
    assert reference("Communication", 10) not in made
    assert "partOf" not in first and "inResponseTo" not in first
    assert (
        second["partOf"]
        == second["inResponseTo"]
        == [{"reference": reference("Communication", 11)}]
    )
    assert retracted["inResponseTo"] == [{"reference": reference("Communication", 12)}]
    assert (retracted["status"], "payload" in retracted) == ("entered-in-error", False)
    assert "retracted by its sender" in retracted["note"][0]["text"]
    assert first["subject"] == {"reference": reference("Patient", 9)}
    assert first["sent"] == "2023-11-14T22:13:21.000+00:00"
    assert [r["display"] for r in first["recipient"]] == ["Dr Roux", "Rappels"]
    document = made[reference("DocumentReference", "12-0")]
    assert document["content"][0]["attachment"]["hash"] == "AQEBAQEBAQEBAQEBAQEBAQEBAQE="
    assert document["context"]["related"] == [{"reference": reference("Communication", 12)}]
    entries = bundle([*made.items(), *made.items()])["entry"]
    assert len(entries) == len(made)  # each once


def test_a_resource_its_model_refuses_never_leaves() -> None:
    with pytest.raises(ValueError):
        validated({"resourceType": "Communication"})  # no status
    with pytest.raises(ValueError):
        validated({"resourceType": "Communication", "status": "completed", "sent": "hier"})


def test_what_a_sender_left_empty_still_makes_valid_resources() -> None:
    """A relative named by nobody on this device, a document without a type or a name."""
    nameless = ReadDocument("", "", 3, b"\x02" * 20, "documents/1-0-document")
    talk = Conversation(
        8,
        None,
        [ANA, DOCTOR],
        Person(9, "", "patient"),
        [
            ReadMessage(21, 1, 2, 1_700_000_000_000, "", [nameless]),
        ],
    )
    made = dict(conversation_resources(talk))  # validated, or it raises
    assert made[reference("Patient", 9)]["name"] == [{"text": "n° 9"}]
    attachment = made[reference("Communication", 21)]["payload"][0]["contentAttachment"]
    assert (attachment["contentType"], attachment["title"]) == (
        "application/octet-stream",
        "document",
    )


def test_someone_who_left_is_still_the_sender_of_what_they_wrote() -> None:
    parent = Person(5, "Julie", "patient")
    talk = Conversation(
        9,
        None,
        [DOCTOR],
        LEO,
        [ReadMessage(31, 1, 5, 1_700_000_000_000, "Léo tousse.")],
        former=[parent],
    )
    made = dict(conversation_resources(talk))
    sent = made[reference("Communication", 31)]
    assert sent["sender"] == {"reference": reference("Patient", 5), "display": "Julie"}
    assert [r["display"] for r in sent["recipient"]] == ["Dr Roux"]


def test_a_filing_refers_to_messages_filed_before_by_their_identifier() -> None:
    talk = Conversation(
        7,
        "after_visit",
        [ANA, DOCTOR],
        None,
        [
            ReadMessage(14, 6, 2, 1_700_000_004_000, "Voici"),
            ReadMessage(15, 7, 1, 1_700_000_005_000, "", sealed=True),
        ],
        earlier=[11, 12],
    )
    made = dict(conversation_resources(talk))
    reply, unreadable = made[reference("Communication", 14)], made[reference("Communication", 15)]
    assert reply["partOf"] == [{"reference": "Communication?identifier=urn:carehub:message|11"}]
    assert reply["inResponseTo"] == [{"reference": identified("Communication", 12)}]
    assert unreadable["inResponseTo"] == [{"reference": reference("Communication", 14)}]
    assert (unreadable["status"], "payload" in unreadable) == ("unknown", False)


def test_a_transaction_creates_people_once_and_updates_messages_by_identifier() -> None:
    carried = ReadDocument("radio.png", "image/png", 3, b"\x01" * 20, data=b"PNG")
    talk = _talk(ReadMessage(12, 3, 2, 1_700_000_002_000, "Résultat", [carried]))
    requests = {
        entry["resource"]["resourceType"]: entry["request"]
        for entry in transaction(conversation_resources(talk))["entry"]
    }
    assert requests["Practitioner"] == {
        "method": "POST",
        "url": "Practitioner",
        "ifNoneExist": "identifier=urn:carehub:user|2",
    }
    assert requests["Communication"] == {
        "method": "PUT",
        "url": "Communication?identifier=urn:carehub:message|12",
    }
    assert requests["DocumentReference"]["url"] == (
        "DocumentReference?identifier=urn:carehub:document|12-0"
    )
    made = dict(conversation_resources(talk))
    attachment = made[reference("DocumentReference", "12-0")]["content"][0]["attachment"]
    assert attachment["data"] == "UE5H" and "url" not in attachment  # the bytes travel with it
    in_message = made[reference("Communication", 12)]["payload"][1]["contentAttachment"]
    assert "data" not in in_message  # once is enough
