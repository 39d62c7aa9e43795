"""Vacation and auto-reply rules through real sockets: managing them, one
automatic answer per thread and window, refusals that point to a colleague."""

from __future__ import annotations

import time

import pytest

from clients.errors import CallError
from protocol.errors import ErrorCode
from protocol.methods import HistoryParams, ThreadsOpenParams
from protocol.model import ThreadKind
from protocol.practice import (
    AuditParams,
    Notice,
    NoticeKind,
    Rule,
    RuleAction,
    RuleParams,
)
from tests.integration.test_practice import refused
from tests.support.server import RunningServer

HOUR = 3600 * 1000


def now_window() -> tuple[int, int]:
    """A window around now, wide enough for any test to run inside it."""
    now = int(time.time() * 1000)
    return now - HOUR, now + HOUR


async def test_rules_are_validated_and_kept_in_order(server: RunningServer) -> None:
    doctor = await server.user("practitioner")
    tablet = await server.other_device(doctor)
    patient = await server.user("patient")
    async with server.client(doctor) as doc, server.client(tablet) as other:
        bad_zone = Rule(name="x", text="y", weekly=[], timezone="Mars/Olympus")
        with pytest.raises(CallError) as raised:
            await doc.call("rules.add", bad_zone)
        assert raised.value.code == ErrorCode.INVALID and raised.value.details["problems"]
        with pytest.raises(CallError) as raised:
            await doc.call("rules.add", Rule(name="x", text="y", redirect_to=doctor.user_id))
        assert raised.value.code == ErrorCode.INVALID
        async with server.client(patient) as client:
            await refused(client.call("rules.add", Rule(name="x", text="y")), "role")

        later = await doc.call("rules.add", Rule(position=2, name="Evenings", text="After 7pm"))
        first = await doc.call("rules.add", Rule(position=1, name="Holidays", text="Away"))
        assert later.id and first.id and later.id != first.id
        listed = (await doc.call("rules.list")).rules
        assert [r.name for r in listed] == ["Holidays", "Evenings"]
        synced = await other.next_event("rules.updated")
        assert [r.id for r in synced.data.rules] == [later.id]

        first.text = "Away until Monday"
        await doc.call("rules.update", first)
        await doc.call("rules.delete", RuleParams(later.id))
        listed = (await doc.call("rules.list")).rules
        assert [(r.id, r.text) for r in listed] == [(first.id, "Away until Monday")]
        with pytest.raises(CallError) as raised:
            await doc.call("rules.delete", RuleParams(later.id))
        assert raised.value.code == ErrorCode.NOT_FOUND


async def test_an_auto_reply_answers_once_per_thread_and_never_as_the_doctor(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    exempt = await server.user("patient")
    await server.add_patient(doctor, exempt)
    starts, ends = now_window()
    away = Rule(
        name="Conference",
        text="I am at a conference this week; I answer on Monday.",
        starts=starts,
        ends=ends,
        exempt=[exempt.user_id],
        emergency_notice=True,
    )
    async with server.secure(doctor) as doc, server.secure(patient) as client:
        rule = await doc.call("rules.add", away)
        first = await client.send(thread, "Could you renew my prescription?")
        second = await client.send(thread, "It is for my asthma.")
        await doc.send(thread, "The practitioner's own answer is unaffected.")

        history = (await client.call("messages.history", HistoryParams(thread))).messages
        in_order = sorted(history, key=lambda m: m.thread_seq)
        notices = [m for m in in_order if m.kind == "notice"]
        assert [m.thread_seq for m in notices] == [1, first.thread_seq + 1, first.thread_seq + 2]
        assert second.thread_seq == first.thread_seq + 3
        auto, emergency = [await client.read(m) for m in notices[1:]]
        assert isinstance(auto, Notice) and isinstance(emergency, Notice)
        assert (auto.kind, auto.text, auto.rule) == (NoticeKind.AUTO_REPLY, away.text, rule.id)
        assert emergency.kind is NoticeKind.EMERGENCY and emergency.text == ""
        assert all(m.sender_device is None and m.sender == doctor.user_id for m in notices)
        trail = (await doc.call("audit.list", AuditParams(thread))).entries
        fired = [(e.action, e.rule, e.actor) for e in trail if e.rule is not None]
        assert fired == [("auto_reply", rule.id, None)]  # automatic: nobody's own act

    async with server.secure(exempt) as client:
        opened = await client.call(
            "threads.open",
            ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], "exam_results"),
        )
        await client.send(opened.id, "My results?")
        history = (await client.call("messages.history", HistoryParams(opened.id))).messages
        assert [m.kind for m in history] == ["text", "notice"]  # only the opening notice


async def test_a_refusing_rule_points_to_a_colleague_until_it_ends(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    colleague = await server.user("practitioner")
    newcomer = await server.user("patient")
    await server.add_patient(doctor, newcomer)
    starts, ends = now_window()
    closed = Rule(
        name="Holidays",
        text="Closed for holidays: please write to Dr Colleague.",
        action=RuleAction.REFUSE,
        starts=starts,
        ends=ends,
        redirect_to=colleague.user_id,
    )
    async with server.secure(doctor) as doc, server.secure(patient) as client:
        rule = await doc.call("rules.add", closed)
        error = await refused(client.send(thread, "Hello?"), "unavailable")
        assert str(error).endswith(closed.text)
        assert error.details == {
            "reason": "unavailable",
            "rule": rule.id,
            "until": ends,
            "redirect_to": colleague.user_id,
        }
        async with server.client(newcomer) as other:
            opening = ThreadsOpenParams(
                ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], "after_visit"
            )
            await refused(other.call("threads.open", opening), "unavailable")
        await doc.send(thread, "The doctor can still write.")

        rule.enabled = False
        await doc.call("rules.update", rule)
        await client.send(thread, "Thanks!")
        async with server.client(await server.admin()) as admin:  # admins have no rules
            await refused(admin.call("rules.list"), "role")
