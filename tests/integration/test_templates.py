"""Reply templates through real sockets: a practitioner's own and their
practice's, strict variables, and the one-call "inappropriate request"."""

from __future__ import annotations

import pytest

from clients.errors import CallError
from protocol.errors import ErrorCode
from protocol.methods import HistoryParams
from protocol.practice import (
    INAPPROPRIATE_REQUEST,
    PracticeCreateParams,
    Template,
    TemplateParams,
)
from tests.integration.test_practice import refused
from tests.support.server import RunningServer


async def test_templates_of_a_practitioner_and_of_their_practice(server: RunningServer) -> None:
    doctor = await server.user("practitioner")
    assistant = await server.user("assistant")
    colleague = await server.user("practitioner")
    patient = await server.user("patient")
    async with server.client(doctor) as doc:
        practice = await doc.call("practices.create", PracticeCreateParams("Cabinet"))
    await server.join_practice(doctor, practice.id, assistant)
    async with server.client(doctor) as doc, server.client(assistant) as helper:
        mine = await doc.call("templates.create", Template(name="Ready", text="Ready, {date}."))
        shared = await doc.call(
            "templates.create",
            Template(name="Results", text="Results in {response_delay}.", practice=practice.id),
        )
        listed = (await helper.call("templates.list")).templates
        assert [t.name for t in listed] == ["Demande inappropriée", "Results"]
        assert listed[0].code == INAPPROPRIATE_REQUEST
        assert listed[0].builtin and listed[0].closes_thread and not listed[0].reply_allowed
        own = [t.id for t in (await doc.call("templates.list")).templates]
        assert own == [0, mine.id, shared.id]

        bad = Template(name="Oops", text="Hello {first_name}")
        with pytest.raises(CallError) as raised:
            await doc.call("templates.create", bad)
        assert raised.value.code == ErrorCode.INVALID and "first_name" in str(raised.value)
        await refused(helper.call("templates.create", Template(name="x", text="y")), "role")
        async with server.client(colleague) as other:
            foreign = Template(name="x", text="y", practice=practice.id)
            await refused(other.call("templates.create", foreign), "role")
            with pytest.raises(CallError) as raised:
                await other.call("templates.delete", TemplateParams(mine.id))
            assert raised.value.code == ErrorCode.NOT_FOUND
        async with server.client(patient) as client:
            await refused(client.call("templates.list"), "role")

        mine.text = "Ready on {date} at {time}."
        assert (await doc.call("templates.update", mine)).text == mine.text
        await doc.call("templates.delete", TemplateParams(shared.id))
        names = [t.name for t in (await helper.call("templates.list")).templates]
        assert names == ["Demande inappropriée"]


async def test_an_inappropriate_request_is_answered_and_closed_in_one_call(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(doctor) as doc, server.secure(patient) as client:
        template = (await doc.call("templates.list")).templates[0]
        values = {"patient_first_name": "Camille", "practitioner_name": "Dr Martin"}
        await doc.send_template(thread, template, values)
        await refused(client.send(thread, "But why?"), "thread_closed")
        history = (await client.call("messages.history", HistoryParams(thread))).messages
        closing, answer = history[0], history[1]
        assert closing.kind == "notice" and answer.reply_allowed is False
        text = (await client.open(answer)).body.text
        assert text.startswith("Bonjour Camille,") and text.endswith("Dr Martin")
