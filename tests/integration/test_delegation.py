"""Delegation through real sockets: an assistant works the inbox of the
practitioners who delegated to them, within the scope they signed, until
it is revoked (at once) or the practice no longer joins them."""

from __future__ import annotations

import pytest

from clients import CallError
from clients.e2e import Opened
from clients.errors import NotForThisDevice
from protocol.e2e import Scope
from protocol.errors import CloseCode, ErrorCode
from protocol.methods import HistoryParams, ThreadParams, ThreadsOpenParams
from protocol.model import Empty, ThreadKind
from protocol.practice import (
    AuditParams,
    Delegation,
    PracticeMemberParams,
    Template,
    TemplateParams,
)
from tests.integration.test_practice import refused
from tests.support.server import RunningServer, received

LATER = 4_000_000_000_000


async def test_an_assistant_reads_and_answers_for_the_practitioner(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor)
    async with server.client(assistant) as first:
        cursor = first.cursor
    await server.delegate(doctor, assistant, [Scope.READ, Scope.REPLY], expires=LATER)
    async with server.secure(patient) as sender:  # its copy of the doctor's list is stale
        await sender.send(thread, "Could you renew my prescription?")
    async with server.secure(assistant, resume_from=cursor) as helper:
        delegations = await helper.call("delegations.list", Empty())
        assert delegations.received == [
            Delegation(doctor.user_id, assistant.user_id, [Scope.READ, Scope.REPLY], LATER)
        ]
        update = await helper.next_event("delegation.updated")  # replayed, then the inbox
        assert update.data.principal == doctor.user_id and not update.data.revoked
        missed = await helper.next_event("message.new")
        opened = await helper.read(missed.data)
        assert isinstance(opened, Opened)
        assert opened.body.text == "Could you renew my prescription?"

        listed = {t.id: t for t in (await helper.call("threads.list", Empty())).threads}
        assert listed[thread].via == doctor.user_id
        page = await helper.call("messages.history", HistoryParams(thread))
        assert missed.data.id in [m.id for m in page.messages]

        async with server.secure(patient) as reader:
            await helper.send(thread, "Dr asked me to confirm", acting_for=doctor.user_id)
            reply = await reader.next_event("message.new")
            answer = await reader.read(reply.data)
            assert isinstance(answer, Opened)
            assert (answer.header.sender_user, answer.header.acting_for) == (
                assistant.user_id,
                doctor.user_id,
            )
            await reader.send(thread, "Thank you")
            live = await helper.next_event("message.new")  # the inbox, live
            assert (live.data.thread, live.data.sender) == (thread, patient.user_id)
            await helper.send(thread, "Dr will call you", acting_for=doctor.user_id)
            after = await reader.next_event("message.new", "receipt")
            # The assistant's sends moved nobody's receipt: the doctor has read nothing.
            assert after.type == "message.new"
            assert after.data.sender == assistant.user_id

        trail = await helper.call("audit.list", AuditParams(thread))
        sent = [e for e in trail.entries if e.action == "sent" and e.actor == assistant.user_id]
        assert [e.acting_for for e in sent] == [doctor.user_id, doctor.user_id]
        closed = await helper.call("threads.close", ThreadParams(thread))
        assert (closed.closed, closed.via) == (True, doctor.user_id)


async def test_a_delegate_answers_only_for_someone_and_within_the_scope(
    server: RunningServer,
) -> None:
    doctor, _, thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant, [Scope.READ])
    async with server.secure(assistant) as helper:
        await helper.call("messages.history", HistoryParams(thread))  # reading is allowed
        error = await refused(
            helper.send(thread, "for the doctor", acting_for=doctor.user_id), "not_delegated"
        )
        assert error.details["acting_for"] == doctor.user_id
        await refused(helper.call("threads.close", ThreadParams(thread)), "not_delegated")
        await refused(
            helper.call("templates.create", Template(name="x", text="y", owner=doctor.user_id)),
            "not_delegated",
        )
    await server.delegate(doctor, assistant, [Scope.READ, Scope.REPLY])
    async with server.secure(assistant) as helper:
        with pytest.raises(CallError) as unsigned:  # a delegate says for whom they answer
            await helper.send(thread, "anonymous")
        assert unsigned.value.code == ErrorCode.FORBIDDEN
    outsider = await server.user("assistant")
    async with server.client(outsider) as stranger:
        with pytest.raises(CallError) as refused_read:
            await stranger.call("messages.history", HistoryParams(thread))
        assert refused_read.value.code == ErrorCode.FORBIDDEN


async def test_only_a_practitioner_delegates_to_an_assistant_of_their_practice(
    server: RunningServer,
) -> None:
    doctor = await server.user("practitioner")
    colleague = await server.user("practitioner")
    assistant = await server.assistant_of(doctor, colleague)
    elsewhere = await server.user("assistant")
    patient = await server.user("patient")
    await refused(server.delegate(doctor, elsewhere), "not_colleague")
    await refused(server.delegate(doctor, colleague), "not_colleague")
    await refused(server.delegate(patient, assistant), "role")
    await refused(server.delegate(doctor, assistant, [Scope.REPLY]), "bad_scope")
    async with server.client(doctor) as desk:
        assert (await desk.call("delegations.list", Empty())).given == []
    await server.delegate(doctor, assistant, [Scope.READ, Scope.AGENDA])
    async with server.client(doctor) as desk:
        given = (await desk.call("delegations.list", Empty())).given
        assert given == [Delegation(doctor.user_id, assistant.user_id, [Scope.AGENDA, Scope.READ])]


async def test_revoking_takes_effect_at_once(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant)
    async with server.secure(assistant) as helper:
        await helper.call("messages.history", HistoryParams(thread))
        async with server.secure(doctor) as desk:
            await desk.refresh([doctor.user_id])
            await desk.revoke_delegate(assistant.user_id)
        revoked = await helper.next_event("delegation.updated")
        assert (revoked.data.principal, revoked.data.revoked) == (doctor.user_id, True)
        assert CloseCode.ACCESS_CHANGED in helper.client.stats.closes
        with pytest.raises(CallError) as now_refused:
            await helper.call("messages.history", HistoryParams(thread))
        assert now_refused.value.code == ErrorCode.FORBIDDEN
        async with server.secure(patient) as sender:
            result = await sender.send(thread, "not for the assistant")
        await server.delegate(doctor, assistant)  # a marker: delegated again, from here on
        seen = await received(helper.client, until="delegation.updated")
        assert "message.new" not in [event.type for event in seen]
        page = await helper.client.call("messages.history", HistoryParams(thread), idempotent=True)
        message = next(m for m in page.messages if m.id == result.message_id)
        with pytest.raises(NotForThisDevice):
            await helper.open(message)  # sealed while revoked: no key for the assistant


async def test_leaving_the_practice_ends_the_delegation(server: RunningServer) -> None:
    doctor, _, thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant)
    async with server.client(doctor) as desk:
        practice = (await desk.call("practices.list", Empty())).practices[0]
        async with server.client(assistant) as helper:
            await desk.call(
                "practices.remove_member", PracticeMemberParams(practice.id, assistant.user_id)
            )
            ended = await helper.next_event("delegation.updated")
            assert ended.data.revoked
            with pytest.raises(CallError):
                await helper.call("messages.history", HistoryParams(thread), idempotent=True)
        told = await desk.next_event("delegation.updated")  # so the app drops them from the list
        assert (told.data.delegate, told.data.revoked) == (assistant.user_id, True)
        assert (await desk.call("delegations.list", Empty())).given == []
    # The signed list still names them: the practitioner still publishes (a new device).
    await server.other_device(doctor)
    async with server.client(doctor) as desk:
        assert (await desk.call("delegations.list", Empty())).given == []


async def test_an_expired_delegation_grants_nothing(server: RunningServer) -> None:
    doctor, _, thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant, expires=1)  # long past
    async with server.client(assistant) as helper:
        assert (await helper.call("delegations.list", Empty())).received == []
        with pytest.raises(CallError) as refused_read:
            await helper.call("messages.history", HistoryParams(thread))
        assert refused_read.value.code == ErrorCode.FORBIDDEN
        assert thread not in [t.id for t in (await helper.call("threads.list", Empty())).threads]


async def test_a_delegate_of_two_members_gets_each_event_once(server: RunningServer) -> None:
    doctor = await server.user("practitioner")
    colleague = await server.user("practitioner")
    assistant = await server.assistant_of(doctor, colleague)
    await server.delegate(doctor, assistant)
    await server.delegate(colleague, assistant)
    async with server.client(assistant) as first:
        cursor = first.cursor
    async with server.secure(doctor) as desk:
        group = await desk.call(
            "threads.open", ThreadsOpenParams(ThreadKind.GROUP, [colleague.user_id])
        )
        await desk.send(group.id, "for both of us")
    async with server.client(assistant, resume_from=cursor) as helper:
        seen = await received(helper, until="message.new")
        assert [e.type for e in seen].count("thread.updated") == 1
        assert helper.stats.duplicates_dropped == 0
        listed = [t.id for t in (await helper.call("threads.list", Empty())).threads]
        assert listed.count(group.id) == 1


async def test_an_assistant_keeps_and_uses_the_practitioners_templates(
    server: RunningServer,
) -> None:
    doctor, _, thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant, [Scope.READ, Scope.REPLY, Scope.TEMPLATES])
    async with server.secure(assistant) as helper:
        made = await helper.call(
            "templates.create",
            Template(name="Renewal", text="Hello {patient_first_name}", owner=doctor.user_id),
        )
        assert made.owner == doctor.user_id
        await helper.send_template(
            thread, made, {"patient_first_name": "Ana"}, acting_for=doctor.user_id
        )
    async with server.client(doctor) as desk:
        mine = (await desk.call("templates.list", Empty())).templates
        assert made.id in [t.id for t in mine]
    await server.delegate(doctor, assistant, [Scope.READ, Scope.REPLY])
    async with server.client(assistant) as helper:
        listed = (await helper.call("templates.list", Empty())).templates
        assert made.id in [t.id for t in listed]  # answering uses them
        with pytest.raises(CallError) as hidden:  # keeping them needs ``templates``
            await helper.call("templates.delete", TemplateParams(made.id))
        assert hidden.value.code == ErrorCode.NOT_FOUND


async def test_a_delegate_downloads_the_documents_of_the_inbox(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant)
    async with server.secure(patient) as sender:
        await sender.refresh([doctor.user_id])
        ref = await sender.upload(thread, b"%PDF results", "results.pdf", "application/pdf")
        await sender.send(thread, "my results", documents=[ref])
    async with server.secure(assistant) as helper:
        page = await helper.call("messages.history", HistoryParams(thread))
        opened = await helper.read(max(page.messages, key=lambda m: m.thread_seq))
        assert isinstance(opened, Opened)
        document = opened.body.documents[0]
        assert await helper.download_http(server.base_url, document) == b"%PDF results"
