"""The audit trail and retractions through real sockets and HTTP."""

from __future__ import annotations

import httpx
import pytest

from clients.errors import CallError
from protocol.e2e import Scope
from protocol.errors import ErrorCode
from protocol.methods import HistoryParams, ReceiptParams, ThreadParams
from protocol.practice import AuditParams, MessageParams, Notice, NoticeKind
from tests.integration.test_practice import refused
from tests.support.server import RunningServer


async def test_the_trail_records_who_did_what_and_is_exported(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread("exam_results")
    async with server.secure(doctor) as doc, server.secure(patient) as client:
        question = await client.send(thread, "Are my results in?")
        await doc.call("receipts.read", ReceiptParams(thread, question.thread_seq))
        answer = await doc.send(thread, "Yes, all normal.", reply_allowed=False)
        await doc.call("threads.close", ThreadParams(thread))

        trail = await doc.call("audit.list", AuditParams(thread))
        assert [(e.action, e.actor, e.thread_seq) for e in trail.entries] == [
            ("opened", patient.user_id, None),
            ("sent", patient.user_id, question.thread_seq),
            ("read", doctor.user_id, question.thread_seq),
            ("sent", doctor.user_id, answer.thread_seq),
            ("closed", doctor.user_id, answer.thread_seq + 1),
        ]
        assert trail.entries[0].detail == "exam_results" and not trail.has_more
        page = await doc.call("audit.list", AuditParams(thread, after=trail.entries[1].id, limit=2))
        assert [e.action for e in page.entries] == ["read", "sent"] and page.has_more
        await refused(client.call("audit.list", AuditParams(thread)), "not_care_team")

    url = f"{server.base_url}/v1/threads/{thread}/audit"
    async with httpx.AsyncClient() as http:
        exported = await http.get(url, headers={"authorization": f"Bearer {doctor.token}"})
        assert exported.status_code == 200
        assert "attachment" in exported.headers["content-disposition"]
        assert [e["action"] for e in exported.json()] == [e.action for e in trail.entries]
        denied = await http.get(url, headers={"authorization": f"Bearer {patient.token}"})
        assert denied.status_code == 403 and denied.json()["details"]["reason"] == "not_care_team"


async def test_a_retraction_leaves_a_visible_trace(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(doctor) as doc, server.secure(patient) as client:
        wrong = await doc.send(thread, "Results for another patient, sent by mistake")
        with pytest.raises(CallError) as raised:
            await client.call("messages.retract", MessageParams(wrong.message_id))
        assert raised.value.code == ErrorCode.NOT_FOUND
        await doc.call("messages.retract", MessageParams(wrong.message_id))
        while True:
            event = (await client.next_event("message.new")).data
            if event.kind == "notice":
                break
        notice = await client.read(event)
        assert isinstance(notice, Notice)
        assert (notice.kind, notice.by, notice.message) == (
            NoticeKind.RETRACTED,
            doctor.user_id,
            wrong.message_id,
        )
        history = (await client.call("messages.history", HistoryParams(thread))).messages
        retracted = next(m for m in history if m.id == wrong.message_id)
        assert retracted.retracted and retracted.envelope == b""
        assert (retracted.sender, retracted.thread_seq) == (doctor.user_id, wrong.thread_seq)
        with pytest.raises(CallError) as raised:
            await doc.call("messages.retract", MessageParams(wrong.message_id))
        assert raised.value.code == ErrorCode.INVALID
        actions = [e.action for e in (await doc.call("audit.list", AuditParams(thread))).entries]
        assert actions[-2:] == ["sent", "retracted"]


async def test_an_assistant_retracts_what_they_sent_for_the_practitioner(
    server: RunningServer,
) -> None:
    """Not a member of the thread: they retract while they still answer in it
    for the practitioner (the ``reply`` scope), and no longer after."""
    doctor, patient, thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant, [Scope.READ, Scope.REPLY])
    async with server.secure(assistant) as helper, server.secure(patient) as client:
        wrong = await helper.send(thread, "Résultats d'un autre patient", acting_for=doctor.user_id)
        kept = await helper.send(thread, "Votre ordonnance est prête", acting_for=doctor.user_id)
        await helper.call("messages.retract", MessageParams(wrong.message_id))
        history = (await client.call("messages.history", HistoryParams(thread))).messages
        mine = [m for m in history if m.sender == assistant.user_id and m.kind != "notice"]
        assert {m.id: m.retracted for m in mine} == {
            wrong.message_id: True,
            kept.message_id: False,
        }
    await server.delegate(doctor, assistant, [Scope.READ])  # reads, answers no more
    async with server.secure(assistant) as helper:
        with pytest.raises(CallError) as raised:
            await helper.call("messages.retract", MessageParams(kept.message_id))
        assert raised.value.code == ErrorCode.NOT_FOUND
