"""Defects clients written from the docs alone ran into, each through the real
socket: a warning before a rule refuses, receipts when someone answers,
a name for everyone in a conversation, popups that count people's messages
only, and none to a background session."""

from __future__ import annotations

import time
from typing import Any

import httpx

from clients import Client
from protocol.e2e import Scope
from protocol.methods import AccountParams, PresenceSetParams, ThreadsOpenParams
from protocol.model import Empty, PresenceStatus, Role, ThreadKind
from protocol.practice import PractitionerParams, Rule, RuleAction, UsersParams
from protocol.texts import Locale
from tests.integration.test_practice import refused
from tests.support.server import RunningServer, received

HOUR = 3600 * 1000


async def test_a_patient_is_told_in_advance_that_a_rule_will_refuse_them(
    server: RunningServer,
) -> None:
    doctor, patient, _ = await server.patient_thread()
    now = int(time.time() * 1000)
    closed = Rule(
        name="Holidays",
        text="Fermé pour congés.",
        action=RuleAction.REFUSE,
        starts=now - HOUR,
        ends=now + HOUR,
    )
    async with server.client(doctor) as doc, server.client(patient) as me:
        await doc.call("rules.add", closed)
        profile = await me.call("practitioners.get", PractitionerParams(doctor.user_id))
        assert (profile.refusal, profile.refusal_text) == ("unavailable", "Fermé pour congés.")
        assert profile.refusal_details["until"] == now + HOUR
        opening = ThreadsOpenParams(
            ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], "prescription_renewal"
        )
        await refused(me.call("threads.open", opening), "unavailable")


async def test_answering_tells_the_others_the_thread_was_read(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(doctor) as doc, server.secure(patient) as me:
        question = await me.send(thread, "Mes résultats sont-ils arrivés ?")
        answer = await doc.send(thread, "Oui, tout est normal.")
        assert answer.thread_seq == question.thread_seq + 1
        receipt = await me.next_event("receipt")
        assert (receipt.data.user, receipt.data.read_seq) == (doctor.user_id, answer.thread_seq)
        assert receipt.seq is not None  # durable: replayed on resume too


async def test_everyone_in_a_conversation_has_a_name_a_role_and_whom_they_answer_for(
    server: RunningServer,
) -> None:
    doctor, patient, _ = await server.patient_thread()
    secretary = await server.assistant_of(doctor)
    bot = await server.assistant_of(doctor, role="bot")
    for delegate in (secretary, bot):
        await server.delegate(doctor, delegate, [Scope.READ, Scope.REPLY])
    stranger = await server.user("patient")
    asked = [doctor.user_id, secretary.user_id, bot.user_id, stranger.user_id]
    async with server.client(patient) as me:
        profiles = (await me.call("users.get", UsersParams(asked))).users
    shown = {p.user: (p.role, p.acting_for) for p in profiles}
    assert shown == {
        doctor.user_id: (Role.PRACTITIONER, []),
        secretary.user_id: (Role.ASSISTANT, [doctor.user_id]),
        bot.user_id: (Role.BOT, [doctor.user_id]),  # a bot is marked as one
    }  # the stranger is left out, as if unknown
    assert all(p.name for p in profiles)


async def foreground(client: Client, on: bool) -> None:
    await client.call("presence.set", PresenceSetParams(PresenceStatus.ONLINE, foreground=on))


async def test_popups_count_peoples_messages_and_skip_background_sessions(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()  # the notice is message 1
    tablet = await server.other_device(doctor)
    async with (
        server.secure(doctor) as desk,
        server.client(tablet) as back,
        server.secure(patient) as me,
    ):
        await foreground(desk.client, True)
        await foreground(back, False)
        await me.send(thread, "Première question")
        popup = await desk.next_event("notify")
        assert (popup.data.thread, popup.data.unread) == (thread, 1)
        listed = (await desk.call("threads.list", Empty())).threads
        assert [t.unread for t in listed if t.id == thread] == [1]
        second = await me.send(thread, "Seconde question")
        assert (await desk.next_event("notify")).data.unread == 2
        # The background session saw both messages, and no popup before the second.
        seen: list[Any] = await received(back, until="message.new", count=2)
        assert [e.type for e in seen].count("notify") == 0, [e.type for e in seen]
        assert seen[-1].data.id == second.message_id


async def test_carehub_speaks_french_first_and_english_when_asked(server: RunningServer) -> None:
    doctor = await server.user("practitioner", verified=False)
    patient = await server.user("patient")
    opening = ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], "after_visit")
    async with server.client(patient) as me:
        assert (await me.call("account.get", Empty())).locale == "fr"
        french = await refused(me.call("threads.open", opening), "not_verified")
        assert str(french).endswith("Le compte de ce praticien n'est pas encore vérifié.")
        await me.call("account.set", AccountParams(Locale.EN))
        english = await refused(me.call("threads.open", opening), "not_verified")
        assert str(english).endswith("This practitioner's account is not verified yet.")
    async with server.client(patient) as again:  # kept for the next connection
        assert again.welcome is not None and again.welcome.locale == "en"
    _, someone, thread = await server.patient_thread()
    url = f"/v1/threads/{thread}/audit"  # a patient may not export it: a refusal
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for language, words in (("en-GB,en;q=0.9", "Only the care team"), ("fr", "Seule")):
            headers = {"authorization": f"Bearer {someone.token}", "accept-language": language}
            answer = (await http.get(url, headers=headers)).json()
            assert answer["details"]["reason"] == "not_care_team"
            assert answer["message"].startswith(words)
