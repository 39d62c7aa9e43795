"""The JavaScript SDK under Node against a real server, beside Python users
(``tests.support.jsclient``): log in over HTTP, calls answered with typed
refusals, durable events in order and once, a dropped link resumed without
loss, another node after a failed attempt, a logged-out token stopping
the client, and end-to-end messages both ways, version 2 (sender keys)
included."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.e2e import GROUP_ENVELOPE_VERSION, Scope, decode_envelope
from protocol.methods import ThreadsOpenParams
from protocol.model import ThreadKind
from protocol.practice import UserParams
from tests.support.jsclient import JsError, JsUser, js_user
from tests.support.server import PASSWORD, RunningServer, free_port


async def logged_in(js: JsUser, server: RunningServer, user_id: int, **connect: Any) -> Any:
    """The JS user logs in as ``user_id`` on a new device and connects."""
    username = server.usernames[user_id]
    await js.run("login", baseUrl=server.base_url, username=username, password=PASSWORD)
    return await js.run("connect", urls=connect.pop("urls", [server.ws_url]), **connect)


async def test_a_js_user_logs_in_calls_and_gets_typed_refusals(server: RunningServer) -> None:
    patient = await server.user("patient", publish_keys=False)
    async with js_user() as js:
        welcome = await logged_in(js, server, patient.user_id)
        assert (welcome["user"], welcome["role"]) == (patient.user_id, "patient")
        assert await js.run("call", method="threads.list", params={}) == {"threads": []}
        with pytest.raises(JsError) as refused:
            await js.run("call", method="messages.history", params={"thread": 987654, "limit": 5})
        assert (refused.value.name, refused.value.code) == ("CallError", "forbidden")
        with pytest.raises(JsError) as unknown:
            await js.run("call", method="no.such_method", params={})
        assert unknown.value.code == "unknown_method"
        await js.run("close")


async def test_durable_events_reach_a_js_user_in_order_and_once_across_a_drop(
    server: RunningServer,
) -> None:
    doctor = await server.user("practitioner")
    patient = await server.user("patient", publish_keys=False)
    async with js_user() as js, server.client(doctor) as desk:
        await logged_in(js, server, patient.user_id)
        await desk.call("patients.add", UserParams(patient.user_id))
        invited = await js.run("nextEvent", types=["care.invited"], timeoutMs=10_000)
        assert invited["data"]["practitioner"]["user"] == doctor.user_id
        await js.run("call", method="care.accept", params={"practitioner": doctor.user_id})
        await js.run("drop")  # the link drops; the doctor writes meanwhile
        opened = [await open_thread(desk, patient.user_id, reason) for reason in REASONS]
        seen = [await js.run("nextEvent", types=["thread.updated"]) for _ in opened]
        state = await js.run("state")
    assert [event["data"]["id"] for event in seen] == opened
    seqs = [event["seq"] for event in seen]
    assert seqs == sorted(seqs) and seqs[0] > invited["seq"] and state["cursor"] >= seqs[-1]
    assert state["stats"]["reconnects"] == 1 and state["stats"]["duplicatesDropped"] == 0


REASONS = ["prescription_renewal", "exam_results", "admin_document"]


async def open_thread(desk: Any, patient: int, reason: str) -> int:
    info = await desk.call(
        "threads.open", {"kind": "patient_practitioner", "members": [patient], "reason": reason}
    )
    return int(info.id)


async def test_a_js_client_tries_another_node_after_a_failed_attempt(
    server: RunningServer,
) -> None:
    patient = await server.user("patient", publish_keys=False)
    nowhere = f"ws://127.0.0.1:{free_port()}/ws"  # a node that is down
    async with js_user() as js:
        await logged_in(js, server, patient.user_id, urls=[server.ws_url, nowhere])
        await js.run("drop", code=4002)  # "server shutting down": go elsewhere
        await js.run("call", method="threads.list", params={}, idempotent=True)
        state = await js.run("state")
    assert state["url"] == server.ws_url and state["stats"]["reconnects"] == 1
    assert state["stats"]["failedAttempts"] == 1  # it went to the other node first


async def test_logging_out_stops_the_js_client_with_an_auth_error(server: RunningServer) -> None:
    patient = await server.user("patient", publish_keys=False)
    async with js_user() as js:
        await logged_in(js, server, patient.user_id)
        await js.run("logout")
        with pytest.raises(JsError) as stopped:
            await js.run("nextEvent", timeoutMs=10_000)
        assert stopped.value.name == "AuthError"
        with pytest.raises(JsError) as refused:
            await js.run("call", method="threads.list", params={})
        assert refused.value.name == "AuthError"


async def test_a_js_patient_and_a_python_practitioner_exchange_messages_and_documents(
    server: RunningServer,
) -> None:
    """End to end across the two SDKs: each seals for the other's devices
    and opens what the other sealed, documents included."""
    doctor = await server.user("practitioner")
    patient = await server.user("patient", publish_keys=False)
    await server.add_patient(doctor, patient)
    scan = b"\x89PNG ordonnance " * 9000  # a photo of a prescription, over two chunks
    report = b"%PDF-1.7 resultats " * 7000
    async with js_user() as js, server.secure(doctor) as desk:
        await logged_in(js, server, patient.user_id)
        await js.run("secureSetup")  # the JS device makes the identity key and publishes
        params = {"kind": "patient_practitioner", "members": [doctor.user_id], "reason": REASON}
        thread = (await js.run("call", method="threads.open", params=params))["id"]
        photo = await js.run("upload", thread=thread, data=scan, name="ordo.png", mime="image/png")
        await js.run("send", thread=thread, text=ASKED, documents=[photo], reason=REASON)
        asked = await desk.read(await message_from(desk, patient.user_id))
        assert asked.body.text == ASKED  # type: ignore[union-attr]
        (document,) = asked.body.documents  # type: ignore[union-attr]
        assert (document.name, await desk.download(document)) == ("ordo.png", scan)

        ref = await desk.upload(thread, report, "resultats.pdf", "application/pdf")
        await desk.send(thread, ANSWERED, documents=[ref])
        answered = await js_message_from(js, doctor.user_id)
    assert answered["opened"]["body"]["text"] == ANSWERED
    assert [(d["name"], d["data"]) for d in answered["documents"]] == [("resultats.pdf", report)]


REASON = "prescription_renewal"
ASKED = "Bonjour docteur, pourriez-vous renouveler mon ordonnance ?"
ANSWERED = "Voici vos résultats, et l'ordonnance est renouvelée."


async def message_from(desk: Any, sender: int) -> Any:
    """The next ``message.new`` that ``sender`` sent (notices skipped)."""
    while True:
        event = await desk.next_event("message.new")
        if event.data.sender == sender and event.data.sender_device is not None:
            return event.data


async def js_message_from(js: JsUser, sender: int) -> Any:
    while True:
        got = await js.run("nextMessage", timeoutMs=10_000)
        if got["sender"] == sender and "body" in got["opened"]:
            return got


async def test_a_js_secretary_answers_for_a_python_doctor_and_the_patient_sees_who(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor, publish_keys=False)
    async with js_user() as js:
        await logged_in(js, server, assistant.user_id)
        await js.run("secureSetup")
        await server.delegate(doctor, assistant, [Scope.READ, Scope.REPLY])  # JS reconnects (4004)
        async with server.secure(patient) as ana:
            await ana.send(thread, ASKED)
            asked = await js_message_from(js, patient.user_id)
            assert asked["opened"]["body"]["text"] == ASKED  # read in the doctor's inbox
            await js.run("send", thread=thread, text=FOR_THE_DOCTOR, actingFor=doctor.user_id)
            answer = await ana.read(await message_from(ana, assistant.user_id))
    assert answer.body.text == FOR_THE_DOCTOR  # type: ignore[union-attr]
    assert answer.header.acting_for == doctor.user_id  # type: ignore[union-attr]


FOR_THE_DOCTOR = "Le docteur a renouvelé votre ordonnance ; elle est à l'accueil."


async def test_in_a_group_with_sender_keys_js_and_python_read_each_other(
    server: RunningServer,
) -> None:
    """Version 2 envelopes across the two SDKs: each distributes its own
    sender key, fetches and verifies the other's, and opens its messages."""
    doctor = await server.user("practitioner")
    patient = await server.user("patient", publish_keys=False)
    other = await server.user("patient")
    for member in (patient, other):
        await server.add_patient(doctor, member)
    async with js_user() as js, server.secure(doctor, sender_keys_above=0) as desk:
        await logged_in(js, server, patient.user_id)
        await js.run("secureSetup", senderKeysAbove=0)
        group = ThreadsOpenParams(ThreadKind.GROUP, [patient.user_id, other.user_id])
        thread = (await desk.call("threads.open", group)).id
        await js.run("send", thread=thread, text=TO_THE_GROUP)
        asked = await message_from(desk, patient.user_id)
        assert decode_envelope(asked.envelope)[1].v == GROUP_ENVELOPE_VERSION
        assert (await desk.read(asked)).body.text == TO_THE_GROUP  # type: ignore[union-attr]
        await desk.send(thread, FROM_THE_DOCTOR)
        answered = await js_message_from(js, doctor.user_id)
    assert answered["opened"]["header"]["v"] == GROUP_ENVELOPE_VERSION
    assert answered["opened"]["body"]["text"] == FROM_THE_DOCTOR


TO_THE_GROUP = "Je viendrai à l'atelier de jeudi, avec ma fille."
FROM_THE_DOCTOR = "Très bien : atelier diabète jeudi à 14 h, salle 2."
