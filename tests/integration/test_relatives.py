"""Proxies through real sockets: a patient manages a relative's profile,
with consent recorded, and opens threads for them."""

from __future__ import annotations

import types
from typing import Any

import pytest

from clients.errors import CallError
from protocol.account import AccountAuditParams
from protocol.booking import AppointmentStatus, ConfirmParams, HoldParams
from protocol.errors import ErrorCode
from protocol.methods import HistoryParams, ThreadsOpenParams
from protocol.model import Empty, ThreadKind
from protocol.practice import CareParams, RelativeIdParams, RelativeParams, UserParams
from server.errors import ServerError
from server.ops.booking import Change, ConfirmPlan, Side, store_confirm
from server.ops.care import AnswerPlan, store_answer
from server.ops.threads import OpenPlan, store_open
from storage import Store
from tests.integration.test_booking import free, practitioner_with_agenda
from tests.integration.test_practice import refused
from tests.support.rows import people
from tests.support.server import RunningServer

CONSENT = "I am Léo's parent and manage his health messages until he is 15."


async def test_a_parent_writes_to_the_pediatrician_for_their_child(server: RunningServer) -> None:
    pediatrician = await server.user("practitioner")
    parent, other_parent = await server.user("patient"), await server.user("patient")
    async with server.client(parent) as client, server.client(pediatrician) as doc:
        child = await client.call("relatives.add", RelativeParams("Léo", "child", CONSENT))
        assert (child.name, child.relation, child.consent) == ("Léo", "child", CONSENT)
        assert child.consent_at > 0
        listed = (await client.call("relatives.list")).relatives
        assert [(r.user, r.name) for r in listed] == [(child.user, "Léo")]
        await refused(doc.call("relatives.add", RelativeParams("X", "child", "yes")), "role")

        for_child = ThreadsOpenParams(
            ThreadKind.PATIENT_PRACTITIONER, [pediatrician.user_id], "after_visit", child.user
        )
        await refused(client.call("threads.open", for_child), "not_a_patient")
        await doc.call("patients.add", UserParams(child.user))
        asked = (await client.next_event("care.invited")).data  # to whoever manages the child
        assert (asked.practitioner.user, asked.patient) == (pediatrician.user_id, child.user)
        await client.call("care.accept", CareParams(pediatrician.user_id, child.user))
        thread = await client.call("threads.open", for_child)
        assert thread.subject == child.user
        assert {m.user for m in thread.members} == {parent.user_id, pediatrician.user_id}
        seen = {t.id: t for t in (await doc.call("threads.list")).threads}
        assert seen[thread.id].subject == child.user

    async with server.client(other_parent) as stranger:
        await refused(stranger.call("threads.open", for_child), "not_managed")
        group = ThreadsOpenParams(ThreadKind.GROUP, [other_parent.user_id], subject=child.user)
        with pytest.raises(CallError) as raised:
            async with server.client(pediatrician) as doc:
                await doc.call("threads.open", group)
        assert raised.value.code == ErrorCode.INVALID


async def test_withdrawing_consent_ends_the_managers_access_not_the_practitioners(
    server: RunningServer,
) -> None:
    pediatrician = await server.user("practitioner")
    parent, stranger = await server.user("patient"), await server.user("patient")
    async with server.secure(parent) as mine, server.secure(pediatrician) as desk:
        child = await mine.client.call("relatives.add", RelativeParams("Léa", "child", CONSENT))
        await desk.client.call("patients.add", UserParams(child.user))
        await mine.client.call("care.accept", CareParams(pediatrician.user_id, child.user))
        for_child = ThreadsOpenParams(
            ThreadKind.PATIENT_PRACTITIONER, [pediatrician.user_id], "after_visit", child.user
        )
        thread = await mine.client.call("threads.open", for_child)
        await mine.send(thread.id, "Léa tousse depuis hier.")
        async with server.client(stranger) as other:
            await refused(
                other.call("relatives.withdraw", RelativeIdParams(child.user)), "not_managed"
            )

        await mine.client.call("relatives.withdraw", RelativeIdParams(child.user))
        members = {parent.user_id}
        while parent.user_id in members:  # the thread's own updates before it, then leaving
            members = {
                m.user for m in (await mine.client.next_event("thread.updated")).data.members
            }
        assert (await mine.client.call("relatives.list")).relatives == []
        await refused(mine.client.call("messages.history", HistoryParams(thread.id)), None)
        await refused(mine.client.call("threads.open", for_child), "not_managed")
        again = mine.client.call("relatives.withdraw", RelativeIdParams(child.user))
        await refused(again, "not_managed")

        history = await desk.client.call("messages.history", HistoryParams(thread.id))
        assert parent.user_id in {m.sender for m in history.messages}  # the record keeps it
    async with server.client(parent) as client:
        actions = (await client.call("account.audit", AccountAuditParams())).entries
    assert (actions[0].action, actions[0].detail) == (
        "relative_withdrawn",
        f"relative {child.user}",
    )


async def test_giving_a_relatives_profile_up_cancels_what_was_booked_for_them(
    server: RunningServer,
) -> None:
    doctor = await practitioner_with_agenda(server)
    parent = await server.user("patient", publish_keys=False)
    async with server.client(parent) as me, server.client(doctor) as desk:
        child = await me.call("relatives.add", RelativeParams("Léa", "child", CONSENT))
        slots = await free(me, doctor)
        held = await me.call("booking.hold", HoldParams(doctor.user_id, "consult", slots[2]))
        for_child = await me.call("booking.confirm", ConfirmParams(held.id, subject=child.user))
        mine = await me.call("booking.hold", HoldParams(doctor.user_id, "consult", slots[4]))
        await me.call("relatives.withdraw", RelativeIdParams(child.user))
        cancelled = (await desk.next_event("appointment.cancelled")).data
        assert (cancelled.id, cancelled.cancel_reason) == (for_child.id, "consent withdrawn")
        statuses = {a.id: a.status for a in (await me.call("booking.list", Empty())).appointments}
    assert statuses == {for_child.id: AppointmentStatus.CANCELLED, mine.id: AppointmentStatus.HELD}


async def test_a_withdrawal_between_a_plan_and_its_transaction_wins(
    database_factory: Any,
) -> None:
    """A thread, a booking or a care answer for the relative, allowed when
    planned, is refused if the consent was withdrawn before it is stored."""
    store = Store(database_factory())
    await store.db.migrate()
    try:
        parent, doctor = await people(store)
        child = await store.relatives.add(parent, "Léo", "child", CONSENT, 0)
        opening = OpenPlan(
            ThreadKind.PATIENT_PRACTITIONER,
            parent,
            sorted([parent, doctor]),
            1,
            None,
            "fever",
            child.user_id,
            parent,
            doctor,
            None,
        )
        booked = types.SimpleNamespace(patient_id=parent)  # what store_confirm reads first
        confirming = ConfirmPlan(Change(booked, Side.PATIENT, parent, (), 1), child.user_id, None)  # type: ignore[arg-type]
        answering = AnswerPlan(
            CareParams(doctor, child.user_id), child.user_id, parent, True, "", 1
        )
        async with store.write() as tx:
            assert await tx.practices.invite_patient(doctor, child.user_id, 0)  # to answer
            assert await tx.relatives.withdraw(parent, child.user_id, 1)
        for store_step, plan in (
            (store_open, opening),
            (store_confirm, confirming),
            (store_answer, answering),
        ):
            with pytest.raises(ServerError) as refused:
                async with store.write() as tx:
                    await store_step(plan, tx, [])  # type: ignore[operator]
            assert refused.value.code in (ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND)
    finally:
        await store.close()
