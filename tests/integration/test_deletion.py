"""An account deleted by its owner, through the real socket: what goes
(everything that signs in, reaches or was the person's alone), what stays
(the others' copies of the conversations, both trails, past appointments),
every socket closed, the owner told by email; refusals change nothing."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, select

from clients import AuthError, CallError
from clients.http import login, register, totp_confirm, totp_enrol
from protocol.account import AdminUsersParams, DeleteParams, EmailParams
from protocol.booking import (
    AppointmentStatus,
    ConfirmParams,
    ExceptionKind,
    ExceptionParams,
    HoldParams,
)
from protocol.e2e import Scope
from protocol.errors import CloseCode
from protocol.methods import HistoryParams, KeysFetchParams, ThreadsOpenParams
from protocol.model import Empty, ThreadKind
from protocol.practice import (
    AuditParams,
    InboxSettings,
    Notice,
    NoticeKind,
    PractitionerParams,
    PractitionerSearchParams,
    RelativeParams,
    Rule,
    Template,
    UserParams,
    UsersParams,
    VerifyParams,
)
from protocol.push import NotifyPreferences, PushSubscribeParams
from server.mail import PASSWORD_RESET
from server.totp import STEP_MS, code_at
from storage import Store
from storage.erasure import ERASED, owned_rows
from storage.schema import appointments, relatives
from tests.integration.test_booking import AGENDA, free
from tests.integration.test_mail import mail_server
from tests.integration.test_push import AUTH, P256DH
from tests.support.server import PASSWORD, RunningServer
from tests.support.wire import greeted

CONSENT = "Je suis son parent et j'accepte."


async def leftovers(server: RunningServer, user: int) -> dict[str, int]:
    """The rows left that were ``user``'s alone, by table (none after a deletion)."""
    store = Store(server.db)
    try:
        async with store.db.read() as conn:
            counts = {
                table.name: await conn.scalar(select(func.count()).select_from(table).where(rows))
                for table, rows in owned_rows(user)
            }
    finally:
        await store.close()
    return {table: count for table, count in counts.items() if count}


async def refusal(call: Any) -> tuple[str, str | None]:
    with pytest.raises((CallError, AuthError)) as refused:
        await call
    return getattr(refused.value, "code", "unauthorized"), refused.value.details.get("reason")


async def test_a_patient_deletes_their_account_and_the_practitioner_keeps_the_conversation(
    make_server: Any,
) -> None:
    async with mail_server() as mailbox:
        server: RunningServer = make_server(
            smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_security="none"
        )
        doctor = await server.user("practitioner")  # with keys: the patient seals for them
        async with server.client(doctor) as agenda:
            await agenda.call("agenda.set", AGENDA)
        me = await server.user("patient", "Ana Lopez")
        await server.add_patient(doctor, me)
        async with server.secure(me) as mine, server.secure(doctor) as desk:
            await mine.call("account.email", EmailParams(PASSWORD, "ana@example.org"))
            child = await mine.call("relatives.add", RelativeParams("Léo", "child", CONSENT))
            slots = await free(mine.client, doctor)
            held = await mine.call("booking.hold", HoldParams(doctor.user_id, "consult", slots[1]))
            booked = await mine.call("booking.confirm", ConfirmParams(held.id))
            opening = ThreadsOpenParams(
                ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], "prescription_renewal"
            )
            thread = (await mine.call("threads.open", opening)).id
            sent = await mine.send(thread, "Bonjour docteur, voici ma question.")
            await desk.send(thread, "Bonjour Ana, je vous réponds.")
        # Someone took the name a careless tombstone would have used.
        await register(server.base_url, f"deleted-{me.user_id}", PASSWORD, "Squatter")
        before = await leftovers(server, me.user_id)
        username = server.usernames[me.user_id]
        phone = await login(server.base_url, username, PASSWORD, device_name="phone")

        async with greeted(server, phone) as on_phone, server.client(me) as client:
            wrong = client.call("account.delete", DeleteParams("not my password"))
            assert await refusal(wrong) == ("forbidden", "wrong_password")
            done = await client.call("account.delete", DeleteParams(PASSWORD))
            assert done.ended == 2  # this session and the phone's
            assert await on_phone.close_code() == CloseCode.TOKEN_REVOKED
        told = await mailbox.next()

    # What goes.
    assert before.keys() == {"care_relations", "sent_counts", "events"}
    # Nothing but the entry of the email that told them (its body emptied once sent).
    assert await leftovers(server, me.user_id) == {"notification_outbox": 1}
    assert await refusal(login(server.base_url, username, PASSWORD)) == ("unauthorized", None)
    tombstone = f"#deleted-{me.user_id}"
    assert (await refusal(login(server.base_url, tombstone, "!")))[0] in ("unauthorized", "invalid")
    assert told.rcpt_tos == ["ana@example.org"] and "vient d'être supprimé" in told.text
    assert "If this was not you" in told.text

    # What stays: the practitioner's copy, its trail, the name the tombstone keeps.
    async with server.client(doctor) as desk:
        history = (await desk.call("messages.history", HistoryParams(thread))).messages
        assert sent.message_id in [m.id for m in history]
        (info,) = [t for t in (await desk.call("threads.list", Empty())).threads if t.id == thread]
        assert me.user_id not in [m.user for m in info.members]
        notices = [m for m in history if m.sender_device is None]
        assert notices, "the practitioner is told the patient left"
        # Who wrote stays named, and what verifies their messages stays.
        (profile,) = (await desk.call("users.get", UsersParams([me.user_id]))).users
        assert profile.name == "Ana Lopez"
        lists = (await desk.call("keys.fetch", KeysFetchParams([me.user_id]))).lists
        assert [signed.user for signed in lists] == [me.user_id]
        trail = (await desk.call("audit.list", AuditParams(thread))).entries
        assert ("sent", me.user_id) in [(e.action, e.actor) for e in trail]
        patients = (await desk.call("patients.list", Empty())).patients
        assert me.user_id not in [p.user for p in patients]
    async with server.client(await server.admin()) as admin:
        found = (await admin.call("admin.users", AdminUsersParams(tombstone))).users
        assert [(u.id, u.name, u.deactivated) for u in found] == [(me.user_id, "Ana Lopez", True)]
    # The consent record stays, withdrawn; the appointment to come is cancelled.
    consent = relatives.c.manager_id == me.user_id, relatives.c.relative_id == child.user
    assert await _value(server, select(relatives.c.withdrawn_at).where(*consent)) is not None
    status = select(appointments.c.status).where(appointments.c.id == booked.id)
    assert await _value(server, status) == AppointmentStatus.CANCELLED


async def _value(server: RunningServer, query: Any) -> Any:
    store = Store(server.db)
    try:
        async with store.db.read() as conn:
            return await conn.scalar(query)
    finally:
        await store.close()


async def test_a_practitioner_deleting_their_account_ends_what_they_delegated(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant, [Scope.READ, Scope.REPLY])
    await _fill(server, doctor, patient, thread)
    before = await leftovers(server, doctor.user_id)
    name = server.usernames[doctor.user_id]
    async with server.client(assistant) as helper, server.secure(patient) as them:
        async with server.client(doctor) as client:
            await client.call("account.delete", DeleteParams(PASSWORD))
        revoked = (await helper.next_event("delegation.updated")).data
        assert (revoked.principal, revoked.revoked) == (doctor.user_id, True)
        left = await them.next_event("message.new")
        notice = await them.read(left.data)
        assert isinstance(notice, Notice)
        assert (notice.kind, notice.user) == (NoticeKind.MEMBER_REMOVED, doctor.user_id)
        found = await them.call("practitioners.search", PractitionerSearchParams(name))
        assert found.practitioners == []
        gone = them.call("practitioners.get", PractitionerParams(doctor.user_id))
        assert await refusal(gone) == ("not_found", None)  # on every node: its cache forgot
        # The patient keeps the conversation.
        history = (await them.call("messages.history", HistoryParams(thread))).messages
        assert history
    # Every table a practitioner fills had a row of theirs; none has one now.
    assert before.keys() == set(ERASED) - {"sender_key_wraps"}  # large groups': test_e2e
    assert await leftovers(server, doctor.user_id) == {"notification_outbox": 1}  # the email
    async with server.client(await server.admin()) as admin:
        listed = await admin.call("admin.users", AdminUsersParams(f"#deleted-{doctor.user_id}"))
        assert [(u.id, u.deleted, u.verified) for u in listed.users] == [
            (doctor.user_id, True, False)
        ]
        again = admin.call("admin.reactivate", UserParams(doctor.user_id))
        assert await refusal(again) == ("not_found", None)
        verify = admin.call("admin.verify", VerifyParams(doctor.user_id))
        assert (await refusal(verify))[0] == "not_found"


async def _fill(server: RunningServer, doctor: Any, patient: Any, thread: int) -> None:
    """A row of the practitioner's in every table they can fill."""
    base, username = server.base_url, server.usernames[doctor.user_id]
    other = await server.user("patient")
    async with server.client(doctor) as desk:
        await desk.call("inbox.set", InboxSettings())
        await desk.call("rules.add", Rule(name="Congés", text="Je suis absente."))
        await desk.call("templates.create", Template(name="Merci", text="Merci !"))
        await desk.call("agenda.set", AGENDA)
        now = int(time.time() * 1000)
        absence = ExceptionParams(
            kind=ExceptionKind.ABSENCE, starts_at=now, ends_at=now + 3_600_000
        )
        await desk.call("agenda.add_exception", absence)
        await desk.call("notify.set", NotifyPreferences())
        endpoint = f"https://fcm.googleapis.com/fcm/send/doctor-{doctor.user_id}"
        await desk.call("push.subscribe", PushSubscribeParams(endpoint, P256DH, AUTH))
        await desk.call("account.email", EmailParams(PASSWORD, "claire@example.org"))
        await desk.call("patients.add", UserParams(other.user_id))  # not answered yet
    offered = await totp_enrol(base, username, PASSWORD)
    step = int(time.time() * 1000) // STEP_MS
    await totp_confirm(base, username, PASSWORD, code_at(offered.secret, step))
    store = Store(server.db)  # a reset link asked for (HTTP sends it in the background)
    try:
        entry = (PASSWORD_RESET, b'{"token": "t", "minutes": 30}')
        await store.password_resets.request(doctor.user_id, b"r" * 32, now, now + 60_000, entry)
    finally:
        await store.close()
    async with server.secure(patient) as me:
        await me.call("broadcasts.opt_out", PractitionerParams(doctor.user_id))
        await me.send(thread, "Bonjour docteur")  # the rule answers: it fired
        await me.next_event("message.new")


async def test_an_admin_account_is_not_deleted_from_within(server: RunningServer) -> None:
    async with server.client(await server.admin()) as admin:
        refused = admin.call("account.delete", DeleteParams(PASSWORD))
        assert await refusal(refused) == ("forbidden", "admin_account")
        assert (await admin.call("account.security", Empty())) is not None
