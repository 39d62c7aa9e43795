"""A records device files conversations into the patient's record: it
reads as the practitioner's delegate, writes a FHIR transaction to a FHIR
server over HTTP (the loopback fake of ``tests/support/fhir.py``, which
applies the transaction rules) and to a folder, and the thread's audit
trail says what was filed and when. Through the real server and socket."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from clients import Client, Credentials
from clients.bots.records import FhirServer, Folder, NotFiled, RecordsDevice
from clients.e2e import Secure
from clients.errors import CallError
from protocol.e2e import Scope
from protocol.methods import ThreadParams, ThreadsOpenParams
from protocol.model import ThreadKind
from protocol.practice import AuditParams
from protocol.records import FiledParams, FilingsParams
from tests.integration.test_bots import start_bot
from tests.support.fhir import TOKEN, FakeFhir, fhir_service
from tests.support.relay import BreakMessageNew, relay
from tests.support.server import RunningServer

MODULE = "clients.bots.records"
REPORT = b"%PDF-1.7 " + bytes(range(256)) * 20
MESSAGE = "urn:carehub:message"
USER = "urn:carehub:user"


@asynccontextmanager
async def records_device(
    server: RunningServer, bot: Credentials, fhir: FakeFhir, folder: Path, url: str | None = None
) -> AsyncIterator[RecordsDevice]:
    """The bot's records device, connected to ``url`` if given (a relay)."""
    target = FhirServer(fhir.base_url, TOKEN)
    async with server.secure(bot, url=url) as secure:
        try:
            yield RecordsDevice(secure, [target, Folder(folder)])
        finally:
            await target.close()


async def practice_with_records_device(
    server: RunningServer,
) -> tuple[Credentials, Credentials, Credentials, int]:
    """A practitioner who delegates ``read`` to a records device, a patient
    and the thread the patient opened."""
    doctor, patient, thread = await server.patient_thread("exam_results")
    bot = await server.assistant_of(doctor, role="bot")
    await server.delegate(doctor, bot, [Scope.READ])
    return doctor, patient, bot, thread


def communications(fhir: FakeFhir) -> dict[str, dict[str, Any]]:
    """The stored Communications, by carehub's message id."""
    return {r["identifier"][0]["value"]: r for r in fhir.of_kind("Communication")}


async def trail(caller: Client | Secure, thread: int) -> list[Any]:
    return list((await caller.call("audit.list", AuditParams(thread))).entries)


async def test_a_records_device_files_a_conversation_and_its_document_into_the_record(
    server: RunningServer, tmp_path: Path
) -> None:
    doctor, patient, bot, thread = await practice_with_records_device(server)
    async with server.secure(patient) as me, server.secure(doctor) as desk:
        asked = await me.send(thread, "Bonjour, avez-vous reçu mes résultats ?")
        ref = await desk.upload(thread, REPORT, "résultats.pdf", "application/pdf")
        answered = await desk.send(thread, "Oui, tout est normal.", documents=[ref])
    async with fhir_service() as fhir, records_device(server, bot, fhir, tmp_path) as device:
        (filed,) = await device.catch_up()
        assert (filed.thread, filed.messages, filed.documents, filed.sealed) == (thread, 2, 1, 0)

        stored = communications(fhir)
        question, answer = stored[str(asked.message_id)], stored[str(answered.message_id)]
        assert question["payload"] == [{"contentString": "Bonjour, avez-vous reçu mes résultats ?"}]
        assert question["topic"]["text"] == "exam_results" and question["status"] == "completed"
        patient_key = _key(fhir, "Patient", USER, patient.user_id)
        doctor_key = _key(fhir, "Practitioner", USER, doctor.user_id)
        assert question["sender"]["reference"] == patient_key == question["subject"]["reference"]
        assert [r["reference"] for r in question["recipient"]] == [doctor_key]
        question_key = _key(fhir, "Communication", MESSAGE, asked.message_id)
        assert answer["inResponseTo"] == [{"reference": question_key}]  # resolved by the server
        assert answer["partOf"] == [{"reference": question_key}]
        (document,) = fhir.of_kind("DocumentReference")
        attachment = document["content"][0]["attachment"]
        assert base64.b64decode(attachment["data"]) == REPORT
        assert base64.b64decode(attachment["hash"]) == hashlib.sha1(REPORT).digest()
        assert (attachment["size"], attachment["title"]) == (len(REPORT), "résultats.pdf")
        assert document["subject"]["reference"] == patient_key

        (bundle,) = fhir.bundles
        on_disk = json.loads((tmp_path / f"thread-{thread}-{filed.through}.json").read_text())
        assert on_disk == bundle  # the folder got the same transaction

    async with server.secure(doctor) as desk:
        (line,) = [e for e in await trail(desk, thread) if e.action == "filed"]
    canonical = json.dumps(bundle, sort_keys=True, separators=(",", ":")).encode()
    assert (line.actor, line.acting_for, line.thread_seq) == (
        bot.user_id,
        doctor.user_id,
        answered.thread_seq,
    )
    digest = hashlib.sha256(canonical).hexdigest()
    assert line.detail == f"2 msg, 1 doc → fhir+folder, sha256:{digest[:16]}"


async def test_filing_again_changes_nothing_and_later_messages_follow_the_thread(
    server: RunningServer, tmp_path: Path
) -> None:
    doctor, patient, bot, thread = await practice_with_records_device(server)
    async with fhir_service() as fhir:
        async with server.secure(patient) as me:
            first = await me.send(thread, "Première question")
        async with records_device(server, bot, fhir, tmp_path) as device:
            await device.catch_up()
        async with server.secure(doctor) as desk:
            second = await desk.send(thread, "Réponse")
        # A new start, with nothing remembered: the server says where it stopped.
        async with records_device(server, bot, fhir, tmp_path) as device:
            (filed,) = await device.catch_up()
            assert (filed.messages, filed.through) == (1, second.thread_seq)
            assert await device.catch_up() == []  # nothing new, nothing filed
            later = fhir.bundles[-1]
            kinds = sorted(e["resource"]["resourceType"] for e in later["entry"])
            assert kinds == ["Communication", "Patient", "Practitioner"]  # the new message only
            # A crash after the FHIR server took a filing but before the
            # server heard of it: the same transaction again changes nothing.
            before = json.dumps(fhir.store, sort_keys=True)
            await device.targets[0].file(later, "again")
            assert json.dumps(fhir.store, sort_keys=True) == before

    stored = communications(fhir)
    assert sorted(stored) == sorted([str(first.message_id), str(second.message_id)])
    assert len(fhir.of_kind("Patient")) == len(fhir.of_kind("Practitioner")) == 1
    first_key = _key(fhir, "Communication", MESSAGE, first.message_id)
    reply = stored[str(second.message_id)]
    assert reply["partOf"] == reply["inResponseTo"] == [{"reference": first_key}]


async def test_a_filing_of_notices_alone_keeps_the_thread_linked_to_its_last_message(
    server: RunningServer, tmp_path: Path
) -> None:
    doctor, patient, bot, thread = await practice_with_records_device(server)
    async with (
        fhir_service() as fhir,
        records_device(server, bot, fhir, tmp_path) as device,
        server.secure(patient) as me,
        server.secure(doctor) as desk,
    ):
        await me.send(thread, "Première")
        second = await me.send(thread, "Deuxième")
        await device.catch_up()
        await desk.call("threads.close", ThreadParams(thread))  # a notice, filed alone
        (closing,) = await device.catch_up()
        assert closing.messages == 0
        await desk.call("threads.reopen", ThreadParams(thread))
        third = await desk.send(thread, "Troisième")
        await device.catch_up()
    answer = communications(fhir)[str(third.message_id)]
    second_key = _key(fhir, "Communication", MESSAGE, second.message_id)
    assert answer["inResponseTo"] == [{"reference": second_key}]


async def test_an_unavailable_fhir_server_leaves_the_messages_to_file_again(
    server: RunningServer, tmp_path: Path
) -> None:
    doctor, patient, bot, thread = await practice_with_records_device(server)
    other = await server.user("patient")
    await server.add_patient(doctor, other)
    async with server.secure(patient) as me, server.secure(other) as them:
        await me.send(thread, "Bonjour")
        second = (await them.call("threads.open", _opening(doctor))).id
        await them.send(second, "Bonjour aussi")
    async with fhir_service() as fhir, records_device(server, bot, fhir, tmp_path) as device:
        fhir.outage = 1  # the first thread's filing is refused, not the second's
        with pytest.raises(NotFiled, match="503"):
            await device.catch_up()
        filings = (await device.secure.call("records.filings", FilingsParams())).filings
        assert [f.thread for f in filings] == [second]
        (filed,) = await device.catch_up()
        assert (filed.thread, filed.messages) == (thread, 1) and len(communications(fhir)) == 2
    async with server.secure(doctor) as desk:
        assert [e.action for e in await trail(desk, thread)].count("filed") == 1


async def test_messages_sent_before_the_delegation_are_filed_as_unreadable(
    server: RunningServer, tmp_path: Path
) -> None:
    doctor, patient, thread = await server.patient_thread("exam_results")
    async with server.secure(patient) as me:
        before = await me.send(thread, "Écrit avant l'appareil d'archivage")
    bot = await server.assistant_of(doctor, role="bot")
    await server.delegate(doctor, bot, [Scope.READ])
    async with server.secure(patient) as me:
        after = await me.send(thread, "Écrit après")
    async with fhir_service() as fhir, records_device(server, bot, fhir, tmp_path) as device:
        (filed,) = await device.catch_up()
    assert (filed.messages, filed.sealed) == (2, 1)
    stored = communications(fhir)
    unreadable, readable = stored[str(before.message_id)], stored[str(after.message_id)]
    assert unreadable["status"] == "unknown" and "payload" not in unreadable
    assert "illisible" in unreadable["note"][0]["text"]
    assert readable["payload"] == [{"contentString": "Écrit après"}]


async def test_the_device_files_each_thread_as_its_messages_arrive(
    server: RunningServer, tmp_path: Path
) -> None:
    _, patient, bot, thread = await practice_with_records_device(server)
    async with fhir_service() as fhir, records_device(server, bot, fhir, tmp_path) as device:
        running = asyncio.create_task(device.run())
        try:
            async with server.secure(patient) as me:
                for n in range(3):
                    await me.send(thread, f"message {n}")
                await fhir.until(lambda: len(communications(fhir)) == 3)
        finally:
            running.cancel()
    texts = sorted(c["payload"][0]["contentString"] for c in communications(fhir).values())
    assert texts == ["message 0", "message 1", "message 2"]
    assert fhir.refusals == []


async def test_a_message_whose_event_the_server_broke_is_filed_all_the_same(
    server: RunningServer, tmp_path: Path
) -> None:
    """The second message's ``message.new`` comes with a type that is not a
    string (a server's bug, played by a relay): the device gets it as
    ``unreadable``, looks at every thread again and files it."""
    _, patient, bot, thread = await practice_with_records_device(server)
    rewrite = BreakMessageNew(nth=2)
    async with (
        fhir_service() as fhir,
        relay(server.ws_url, rewrite) as url,
        records_device(server, bot, fhir, tmp_path, url) as device,
    ):
        running = asyncio.create_task(device.run())
        try:
            async with server.secure(patient) as me:
                await me.send(thread, "message 0")
                await fhir.until(lambda: len(communications(fhir)) == 1)
                await me.send(thread, "message 1")
                await fhir.until(lambda: len(communications(fhir)) == 2)
        finally:
            running.cancel()
    assert len(rewrite.broken) == 1
    texts = sorted(c["payload"][0]["contentString"] for c in communications(fhir).values())
    assert texts == ["message 0", "message 1"]


async def test_the_records_device_runs_as_its_own_process(
    server: RunningServer, tmp_path: Path
) -> None:
    doctor, patient = await server.user("practitioner"), await server.user("patient")
    await server.add_patient(doctor, patient)
    bot = await server.assistant_of(doctor, role="bot", publish_keys=False)
    (tmp_path / "token").write_text(TOKEN)
    async with fhir_service() as fhir:
        options = ["--fhir", fhir.base_url, "--fhir-token-file", str(tmp_path / "token")]
        options += ["--folder", str(tmp_path / "folder")]
        process = await start_bot(server, bot, MODULE, tmp_path / "records.keys", *options)
        try:
            await server.delegate(doctor, bot, [Scope.READ])
            async with server.secure(patient) as me:
                thread = await me.call("threads.open", _opening(doctor))
                await me.send(thread.id, "Pouvez-vous renouveler mon ordonnance ?")
            await fhir.until(lambda: len(communications(fhir)) == 1)
        finally:
            process.terminate()
            await process.wait()
    # The folder is written before the FHIR server is asked.
    assert list((tmp_path / "folder").glob(f"thread-{thread.id}-*.json"))


async def test_filings_are_refused_to_whoever_may_not_read_the_trail(
    server: RunningServer,
) -> None:
    doctor, patient, bot, thread = await practice_with_records_device(server)
    stranger = await server.assistant_of(await server.user("practitioner"), role="bot")
    digest = bytes(32)
    for who in (patient, stranger):
        async with server.client(who) as client:
            with pytest.raises(CallError) as refused:
                await client.call("records.filed", FiledParams(thread, 1, 1, 0, "fhir", digest))
            assert refused.value.details["reason"] == "not_care_team"
    async with server.client(bot) as client:
        with pytest.raises(CallError) as beyond:
            await client.call("records.filed", FiledParams(thread, 9, 1, 0, "fhir", digest))
        assert beyond.value.code == "invalid" and beyond.value.details["last_seq"] < 9
        with pytest.raises(CallError) as named:  # a target is a name, not a URL with secrets
            await client.call(
                "records.filed", FiledParams(thread, 1, 1, 0, "https://u:p@x?y", digest)
            )
        assert named.value.code == "invalid"
    async with server.client(doctor) as client:
        assert [e.action for e in await trail(client, thread)] == ["opened"]


def _key(fhir: FakeFhir, kind: str, system: str, value: int) -> str:
    return f"{kind}/{fhir.find(kind, system, str(value))['id']}"


def _opening(doctor: Credentials) -> ThreadsOpenParams:
    return ThreadsOpenParams(
        ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], "prescription_renewal"
    )
