"""The practice's rules through real sockets: verification, practices, who
is whose patient, inbox settings, limits, closing, reply permission."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from clients import Credentials
from clients.errors import CallError
from protocol.errors import ErrorCode
from protocol.methods import (
    HistoryParams,
    SendResult,
    ThreadMemberParams,
    ThreadParams,
    ThreadsOpenParams,
)
from protocol.model import Empty, ThreadKind
from protocol.practice import (
    Accepting,
    CareParams,
    InboxSettings,
    Notice,
    NoticeKind,
    PracticeCreateParams,
    PracticeMemberParams,
    PracticeParams,
    PractitionerParams,
    PractitionerSearchParams,
    RequestReason,
    UserParams,
    default_reasons,
)
from tests.support.server import RunningServer

PP = ThreadKind.PATIENT_PRACTITIONER


async def refused(
    call: Any, reason: str | None, code: ErrorCode = ErrorCode.FORBIDDEN
) -> CallError:
    """The call fails with ``code`` and ``details.reason``, and words to show."""
    with pytest.raises(CallError) as raised:
        await call
    error = raised.value
    assert (error.code, error.details.get("reason")) == (code, reason), error
    assert str(error)
    return error


def open_params(practitioner: Credentials, reason: str | None = "after_visit") -> Any:
    return ThreadsOpenParams(PP, [practitioner.user_id], reason)


async def test_patients_reach_verified_practitioners_only(server: RunningServer) -> None:
    doctor = await server.user("practitioner", "Dr Unverified Quill", verified=False)
    patient = await server.user("patient")
    async with server.client(patient) as client, server.client(doctor) as doc:
        await refused(client.call("threads.open", open_params(doctor)), "not_verified")
        found = await client.call("practitioners.search", PractitionerSearchParams("quill"))
        assert found.practitioners == []
        await refused(client.call("admin.verify", UserParams(doctor.user_id)), "role")
        await refused(doc.call("patients.add", UserParams(patient.user_id)), "not_verified")

        async with server.client(await server.admin()) as admin:
            await admin.call("admin.verify", UserParams(doctor.user_id))
            with pytest.raises(CallError) as raised:
                await admin.call("admin.verify", UserParams(patient.user_id))
            assert raised.value.code == ErrorCode.NOT_FOUND
        verified = await doc.next_event("account.verified")
        assert verified.data.user == doctor.user_id and verified.seq is not None

        found = await client.call("practitioners.search", PractitionerSearchParams("QUILL"))
        assert [p.id for p in found.practitioners] == [doctor.user_id]
        assert found.practitioners[0].reasons == default_reasons("fr")  # French by default
        assert found.practitioners[0].reasons[0].label == "Renouvellement d'ordonnance"
        await refused(client.call("threads.open", open_params(doctor)), "not_a_patient")
        profile = await client.call("practitioners.get", PractitionerParams(doctor.user_id))
        assert profile.refusal == "not_a_patient"
        assert profile.refusal_text.startswith(
            "Vous pourrez écrire à ce praticien"
        )  # their language
        assert "112" in profile.emergency_notice

        asked = await doc.call("patients.add", UserParams(patient.user_id))
        assert asked.status == "invited"
        await doc.call("patients.add", UserParams(patient.user_id))  # twice is once
        invitation = (await client.next_event("care.invited")).data
        assert (invitation.practitioner.user, invitation.patient) == (
            doctor.user_id,
            patient.user_id,
        )
        listed = await doc.call("patients.list")  # not theirs yet, and no name
        assert (listed.patients, listed.invited) == ([], [patient.user_id])
        await refused(client.call("threads.open", open_params(doctor)), "not_a_patient")
        pending = (await client.call("care.invitations", Empty())).invitations
        assert [i.practitioner.name for i in pending] == ["Dr Unverified Quill"]
        await client.call("care.accept", CareParams(doctor.user_id))
        added = (await doc.next_event("patient.added")).data
        assert (added.user, added.source) == (patient.user_id, "added")
        listed = await doc.call("patients.list")
        assert [(p.user, p.source) for p in listed.patients] == [(patient.user_id, "added")]
        assert listed.invited == []
        again = await doc.call("patients.add", UserParams(patient.user_id))
        assert again.status == "patient"
        profile = await client.call("practitioners.get", PractitionerParams(doctor.user_id))
        assert profile.refusal is None
        thread = await client.call("threads.open", open_params(doctor))
        assert thread.reason == "after_visit"


async def test_practitioners_write_to_their_own_patients_and_colleagues(
    server: RunningServer,
) -> None:
    doctor = await server.user("practitioner")
    colleague = await server.user("practitioner")
    stranger = await server.user("patient")
    async with server.client(doctor) as client:
        await refused(
            client.call("threads.open", ThreadsOpenParams(PP, [stranger.user_id])), "not_a_patient"
        )
        await client.call("patients.add", UserParams(stranger.user_id))
        await refused(  # asked is not accepted
            client.call("threads.open", ThreadsOpenParams(PP, [stranger.user_id])), "not_a_patient"
        )
        async with server.client(stranger) as patient:
            await patient.call("care.decline", CareParams(doctor.user_id))
            with pytest.raises(CallError) as answered:  # answered once
                await patient.call("care.accept", CareParams(doctor.user_id))
            assert answered.value.code == ErrorCode.NOT_FOUND
        await server.add_patient(doctor, stranger)
        first = await client.call("threads.open", ThreadsOpenParams(PP, [stranger.user_id]))
        second = await client.call("threads.open", ThreadsOpenParams(PP, [stranger.user_id]))
        assert first.id != second.id  # one thread per subject
        pair = ThreadsOpenParams(ThreadKind.PRACTITIONER_PRACTITIONER, [colleague.user_id])
        assert (await client.call("threads.open", pair)).id == (
            await client.call("threads.open", pair)
        ).id
        with pytest.raises(CallError) as raised:
            await client.call("patients.add", UserParams(colleague.user_id))
        assert raised.value.code == ErrorCode.NOT_FOUND


async def test_inbox_settings_decide_who_may_open_and_why(server: RunningServer) -> None:
    doctor = await server.user("practitioner")
    patient, listed = await server.user("patient"), await server.user("patient")
    await server.add_patient(doctor, patient)
    await server.add_patient(doctor, listed)
    tablet = await server.other_device(doctor)
    async with (
        server.client(doctor) as doc,
        server.client(tablet) as doc_tablet,
        server.client(patient) as client,
        server.client(listed) as other,
    ):
        assert await doc.call("inbox.get") == InboxSettings()
        await refused(client.call("inbox.get"), "role")
        duplicate = InboxSettings(reasons=[RequestReason("x", "X"), RequestReason("x", "Y")])
        with pytest.raises(CallError) as raised:
            await doc.call("inbox.set", duplicate)
        assert raised.value.code == ErrorCode.INVALID

        await doc.call("inbox.set", InboxSettings(accepting=Accepting.OFF))
        synced = await doc_tablet.next_event("inbox.updated")
        assert synced.data.accepting is Accepting.OFF
        await refused(client.call("threads.open", open_params(doctor)), "not_accepting")

        only = InboxSettings(
            accepting=Accepting.LIST,
            accept_list=[listed.user_id],
            reasons=[RequestReason("results", "Exam results", 48)],
        )
        await doc.call("inbox.set", only)
        await refused(client.call("threads.open", open_params(doctor, "results")), "not_on_list")
        no_reason = other.call("threads.open", open_params(doctor, None))
        error = await refused(no_reason, "reason_required")
        assert error.details["offered"] == ["results"]
        await refused(
            other.call("threads.open", open_params(doctor, "after_visit")), "reason_not_offered"
        )
        thread = await other.call("threads.open", open_params(doctor, "results"))
        assert thread.reason == "results"
        profile = await other.call("practitioners.get", PractitionerParams(doctor.user_id))
        assert profile.reasons == only.reasons and profile.accepting is Accepting.LIST


async def test_open_thread_and_daily_message_limits(server: RunningServer) -> None:
    doctor = await server.user("practitioner")
    patient = await server.user("patient")
    await server.add_patient(doctor, patient)
    async with server.secure(doctor) as doc, server.secure(patient) as client:
        await doc.call("inbox.set", InboxSettings(max_open_threads=1, max_daily_messages=2))
        first = await client.call("threads.open", open_params(doctor))
        error = await refused(client.call("threads.open", open_params(doctor)), "open_threads")
        assert error.details["limit"] == 1
        await doc.call("threads.close", ThreadParams(first.id))
        second = await client.call("threads.open", open_params(doctor))

        await client.send(second.id, "one")
        await client.send(second.id, "two")
        error = await refused(client.send(second.id, "three"), "daily_messages")
        assert error.details["limit"] == 2
        await doc.send(second.id, "the care side has no daily limit")
        history = await client.call("messages.history", HistoryParams(second.id))
        assert [m.kind for m in history.messages] == ["text", "text", "text", "notice"]


async def test_sends_stored_together_each_meet_their_own_daily_limit(
    server: RunningServer,
) -> None:
    """Patients writing at once with the practitioner in one of their
    threads, through their sockets: those at their limit are refused alone,
    the others stored in order. (Whether the sends share a transaction is
    up to the writer's timing; ``test_send_state`` and ``test_writer``
    check the reads a batch makes together.)"""
    doctor = await server.user("practitioner")
    patients = [await server.user("patient") for _ in range(4)]
    for patient in patients:
        await server.add_patient(doctor, patient)
    async with server.secure(doctor) as doc, contextlib.AsyncExitStack() as stack:
        await doc.call("inbox.set", InboxSettings(max_daily_messages=1))
        links = [await stack.enter_async_context(server.secure(p)) for p in patients]
        threads = [(await link.call("threads.open", open_params(doctor))).id for link in links]
        for link, thread in zip(links[:2], threads, strict=False):
            await link.send(thread, "hier")  # at their limit from now on
        outcomes = await asyncio.gather(
            *(link.send(thread, "encore") for link, thread in zip(links, threads, strict=True)),
            doc.send(threads[3], "la réponse"),
            return_exceptions=True,
        )
        *mine, care = outcomes
        for outcome in mine[:2]:  # at their limit
            assert isinstance(outcome, CallError), outcome
            assert outcome.details.get("reason") == "daily_messages"
        third, fourth = mine[2:]
        assert isinstance(third, SendResult)
        assert isinstance(fourth, SendResult) and isinstance(care, SendResult)
        # the threads open alike; the fourth's two messages are numbered in turn
        assert sorted([fourth.thread_seq, care.thread_seq]) == [
            third.thread_seq,
            third.thread_seq + 1,
        ]
        for thread, sent in zip(threads, (1, 1, 1, 2), strict=True):
            history = await doc.call("messages.history", HistoryParams(thread))
            assert len([m for m in history.messages if m.kind == "text"]) == sent


async def test_closing_reopening_and_reply_permission(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    async with server.secure(doctor) as doc, server.secure(patient) as client:
        await refused(client.call("threads.close", ThreadParams(thread)), "not_care_team")
        await refused(client.send(thread, "bye", close_thread=True), "not_care_team")

        closed = await doc.call("threads.close", ThreadParams(thread))
        assert closed.closed
        notice = (await client.next_event("message.new")).data
        read = await client.read(notice)
        assert isinstance(read, Notice) and (read.kind, read.by) == (
            NoticeKind.CLOSED,
            doctor.user_id,
        )
        assert (await client.next_event("thread.updated")).data.closed
        await refused(client.send(thread, "hello?"), "thread_closed")
        again = await doc.call("threads.close", ThreadParams(thread))  # no second notice
        assert again.last_seq == closed.last_seq

        reopened = await doc.call("threads.reopen", ThreadParams(thread))
        assert not reopened.closed and reopened.last_seq == closed.last_seq + 1
        await client.send(thread, "thanks for reopening")

        await doc.send(thread, "Your prescription is ready.", reply_allowed=False)
        await refused(client.send(thread, "one more thing"), "reply_not_allowed")
        listed = await client.call("threads.list")
        assert next(t for t in listed.threads if t.id == thread).reply_allowed is False
        await doc.send(thread, "Any questions?")
        await client.send(thread, "No, thank you")

        await doc.send(thread, "This is not the place for it.", close_thread=True)
        await refused(client.send(thread, "why?"), "thread_closed")
        kinds = [
            (m.kind, m.sender_device is None)
            for m in (await client.call("messages.history", HistoryParams(thread))).messages[:2]
        ]
        assert kinds == [("notice", True), ("text", False)]  # the closing follows the message


async def test_joining_a_practice_takes_the_invitees_consent(server: RunningServer) -> None:
    doctor = await server.user("practitioner", "Dr Voltaire")
    assistant = await server.user("assistant")
    patient = await server.user("patient")
    outsider = await server.user("practitioner")
    async with server.client(doctor) as doc, server.client(outsider) as out:
        practice = await doc.call("practices.create", PracticeCreateParams("Cabinet Voltaire"))
        assert [m.user for m in practice.members] == [doctor.user_id]
        async with server.client(assistant) as helper:
            asked = await doc.call(
                "practices.invite", PracticeMemberParams(practice.id, assistant.user_id)
            )
            assert [m.user for m in asked.members] == [doctor.user_id]  # not a member yet
            assert [m.user for m in asked.invited] == [assistant.user_id]
            invited = (await helper.next_event("practice.invited")).data
            assert (invited.practice, invited.invited_by.name) == (practice.id, "Dr Voltaire")
            listed = await helper.call("practices.list", Empty())
            assert listed.practices == [] and [i.practice for i in listed.invitations] == [
                practice.id
            ]
            joined = await helper.call("practices.accept", PracticeParams(practice.id))
            assert {m.user for m in joined.members} == {doctor.user_id, assistant.user_id}
            assert joined.invited == []
            updated = (await doc.next_event("practice.updated")).data  # the invitation
            updated = (await doc.next_event("practice.updated")).data  # the acceptance
            assert {m.user for m in updated.members} == {doctor.user_id, assistant.user_id}
            await refused(
                helper.call("practices.accept", PracticeParams(practice.id)),
                None,
                ErrorCode.NOT_FOUND,
            )
            await refused(helper.call("practices.create", PracticeCreateParams("Mine")), "role")
            await helper.call("practices.leave", PracticeParams(practice.id))
            assert (await helper.call("practices.list", Empty())).practices == []
        await refused(
            doc.call("practices.invite", PracticeMemberParams(practice.id, patient.user_id)),
            "role",
        )
        await refused(  # only its members invite into a practice
            out.call("practices.invite", PracticeMemberParams(practice.id, outsider.user_id)),
            "role",
        )
        # Nobody is put in a practice unasked: the doctor declines the outsider's.
        theirs = await out.call("practices.create", PracticeCreateParams("Elsewhere"))
        await out.call("practices.invite", PracticeMemberParams(theirs.id, doctor.user_id))
        assert [p.id for p in (await doc.call("practices.list", Empty())).practices] == [
            practice.id
        ]
        await doc.call("practices.decline", PracticeParams(theirs.id))
        assert (await doc.call("practices.list", Empty())).invitations == []
        withdrawn = await out.call(  # an invitation can be withdrawn too
            "practices.invite", PracticeMemberParams(theirs.id, assistant.user_id)
        )
        assert [m.user for m in withdrawn.invited] == [assistant.user_id]
        withdrawn = await out.call(
            "practices.remove_member", PracticeMemberParams(theirs.id, assistant.user_id)
        )
        assert withdrawn.invited == [] and [m.user for m in withdrawn.members] == [outsider.user_id]


async def test_an_unverified_practitioner_reaches_nobody(server: RunningServer) -> None:
    """Until an admin verifies them, a practitioner opens no thread, is put in
    none, creates and joins no practice; their own settings are theirs to prepare."""
    newcomer = await server.user("practitioner", verified=False)
    doctor, patient, _ = await server.patient_thread()
    async with server.client(newcomer) as new, server.client(doctor) as doc:
        for kind, members in (
            (ThreadKind.PRACTITIONER_PRACTITIONER, [doctor.user_id]),
            (ThreadKind.GROUP, [doctor.user_id]),
            (ThreadKind.GROUP, [doctor.user_id, patient.user_id]),
        ):
            await refused(
                new.call("threads.open", ThreadsOpenParams(kind, members)), "not_verified"
            )
        for kind in (ThreadKind.PRACTITIONER_PRACTITIONER, ThreadKind.GROUP):
            await refused(
                doc.call("threads.open", ThreadsOpenParams(kind, [newcomer.user_id])),
                "not_verified",
            )
        group = await doc.call(
            "threads.open", ThreadsOpenParams(ThreadKind.GROUP, [patient.user_id])
        )
        await refused(
            doc.call("threads.add_member", ThreadMemberParams(group.id, newcomer.user_id)),
            "not_verified",
        )
        await refused(new.call("practices.create", PracticeCreateParams("Mine")), "not_verified")
        practice = await doc.call("practices.create", PracticeCreateParams("Cabinet"))
        await doc.call("practices.invite", PracticeMemberParams(practice.id, newcomer.user_id))
        await refused(new.call("practices.accept", PracticeParams(practice.id)), "not_verified")
        await new.call("inbox.set", InboxSettings(accepting=Accepting.OFF))  # their own: allowed
        assert (await new.call("threads.list", Empty())).threads == []
