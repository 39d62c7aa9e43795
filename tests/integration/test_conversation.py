"""The whole conversation through the SDK: open, send, receive, receipts,
presence, popups."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from clients.e2e import Secure
from clients.errors import CallError
from protocol.events import Notify, PresenceChanged, ReceiptUpdated
from protocol.methods import (
    Empty,
    HistoryParams,
    PresenceSetParams,
    ReceiptParams,
    SendResult,
    ThreadsOpenParams,
    TypingParams,
)
from protocol.model import MessageData, PresenceStatus, ThreadInfo, ThreadKind
from protocol.practice import Notice, NoticeKind
from protocol.texts import render
from tests.support.server import RunningServer


async def test_patient_and_practitioner_converse(server: RunningServer) -> None:
    doctor_creds = await server.user("practitioner", "Dr Martin")
    patient_creds = await server.user("patient", "Camille")
    await server.add_patient(doctor_creds, patient_creds)
    async with server.secure(doctor_creds) as doctor, server.secure(patient_creds) as patient:
        await doctor.call("presence.set", PresenceSetParams(PresenceStatus.ONLINE, foreground=True))
        thread: ThreadInfo = await patient.call(
            "threads.open",
            ThreadsOpenParams(
                ThreadKind.PATIENT_PRACTITIONER, [doctor_creds.user_id], "prescription_renewal"
            ),
        )
        assert {m.user for m in thread.members} == {doctor_creds.user_id, patient_creds.user_id}
        assert thread.reason == "prescription_renewal" and not thread.closed
        opened = await doctor.next_event("thread.updated")
        assert opened.data.id == thread.id
        for side in (patient, doctor):  # the thread opens with the emergency notice
            first = (await side.next_event("message.new")).data
            assert (first.thread_seq, first.kind, first.sender_device) == (1, "notice", None)
            notice = await side.read(first)
            assert isinstance(notice, Notice) and notice.kind is NoticeKind.EMERGENCY
            assert notice.text == ""  # the client words it, in the reader's language
            assert "112" in render("fr", f"notice.{notice.kind}")

        sent = await patient.send(
            thread.id, "Could you renew my prescription?", reason="prescription_renewal"
        )
        assert sent.thread_seq == 2 and not sent.duplicate
        [listed] = (await doctor.call("threads.list")).threads
        assert (listed.last_seq, listed.last_at) == (2, sent.sent_at)  # the inbox's order

        new = await doctor.next_event("message.new")
        message: MessageData = new.data
        assert (message.sender, message.thread_seq) == (patient_creds.user_id, 2)
        assert message.reason == "prescription_renewal"
        assert b"Could you" not in message.envelope
        opened = await doctor.open(message)
        assert opened.body.text == "Could you renew my prescription?"
        popup = await doctor.next_event("notify")
        assert isinstance(popup.data, Notify)
        assert (popup.data.thread, popup.data.sender, popup.data.unread) == (
            thread.id,
            patient_creds.user_id,
            1,  # the patient's message; the emergency notice is not counted
        )

        await doctor.call("receipts.read", ReceiptParams(thread.id, message.thread_seq))
        receipt = await patient.next_event("receipt")
        assert isinstance(receipt.data, ReceiptUpdated)
        assert (receipt.data.user, receipt.data.read_seq, receipt.data.delivered_seq) == (
            doctor_creds.user_id,
            2,
            2,
        )

        await doctor.call("typing", TypingParams(thread.id))
        typing = await patient.next_event("typing")
        assert typing.data.user == doctor_creds.user_id and typing.seq is None

        reply = await doctor.send(thread.id, "Done, see you in May.", reply_allowed=False)
        assert reply.thread_seq == 3
        answer = await patient.next_event("message.new")
        assert answer.data.reply_allowed is False
        assert (await patient.open(answer.data)).body.text == "Done, see you in May."

        page = await patient.call("messages.history", HistoryParams(thread.id))
        assert [m.thread_seq for m in page.messages] == [3, 2, 1] and page.has_more is False
        threads = (await doctor.call("threads.list")).threads
        mine = next(t for t in threads if t.id == thread.id)
        assert (mine.last_seq, mine.read_seq, mine.unread) == (3, 3, 0)
        assert mine.reply_allowed is False  # the doctor's last message took no reply


async def test_presence_is_seen_by_contacts_only(server: RunningServer) -> None:
    doctor_creds = await server.user("practitioner")
    patient_creds = await server.user("patient")
    stranger_creds = await server.user("patient")
    await server.add_patient(doctor_creds, patient_creds)
    async with server.client(doctor_creds) as doctor, server.client(stranger_creds) as stranger:
        await doctor.call(
            "threads.open",
            ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [patient_creds.user_id]),
        )
        async with server.client(patient_creds) as patient:
            online = await doctor.next_event("presence")
            assert isinstance(online.data, PresenceChanged)
            assert (online.data.user, online.data.status) == (
                patient_creds.user_id,
                PresenceStatus.ONLINE,
            )
            await patient.call("presence.set", PresenceSetParams(PresenceStatus.AWAY))
            away = await doctor.next_event("presence")
            assert away.data.status is PresenceStatus.AWAY
            listed = (await doctor.call("presence.list")).contacts
            assert [(c.user, c.status) for c in listed] == [
                (patient_creds.user_id, PresenceStatus.AWAY)
            ]
            assert (await stranger.call("presence.list")).contacts == []
        offline = await doctor.next_event("presence")
        assert offline.data.status is PresenceStatus.OFFLINE
        assert offline.data.last_seen is not None


async def test_a_receipt_that_changes_nothing_is_not_written(make_server) -> None:  # type: ignore[no-untyped-def]
    """A user's devices each acknowledge the same message, and a sender's
    other device acknowledges what sending already marked read: one write."""
    server = make_server()
    doctor_creds = await server.user("practitioner")
    patient_creds = await server.user("patient")
    patient_tablet = await server.other_device(patient_creds)
    await server.add_patient(doctor_creds, patient_creds)

    async with (
        server.secure(doctor_creds) as doctor,
        server.secure(patient_creds) as patient,
        server.secure(patient_tablet) as tablet,
    ):
        thread = await doctor.call(
            "threads.open",
            ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [patient_creds.user_id]),
        )
        sent = await doctor.send(thread.id, "Your results are in.")
        before = await server.healthz("writes")
        await patient.call("receipts.delivered", ReceiptParams(thread.id, sent.thread_seq))
        assert await server.healthz("writes") == before + 1
        receipt = await doctor.next_event("receipt")
        assert receipt.data.delivered_seq == sent.thread_seq
        await tablet.call("receipts.delivered", ReceiptParams(thread.id, sent.thread_seq))
        await doctor.call("receipts.delivered", ReceiptParams(thread.id, sent.thread_seq))
        assert await server.healthz("writes") == before + 1
        await tablet.call("receipts.read", ReceiptParams(thread.id, sent.thread_seq))
        assert await server.healthz("writes") == before + 2  # reading is news
        assert (await doctor.next_event("receipt")).data.read_seq == sent.thread_seq


async def test_every_commit_is_timed_and_counted_once_in_healthz(server: RunningServer) -> None:
    doctor_creds = await server.user("practitioner")
    patient_creds = await server.user("patient")
    await server.add_patient(doctor_creds, patient_creds)
    async with server.secure(doctor_creds) as doctor:
        thread = await doctor.call(
            "threads.open",
            ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [patient_creds.user_id]),
        )
        before = await server.health()
        for text in ("Bonjour", "Vos résultats sont arrivés."):
            await doctor.send(thread.id, text)
        after = await server.health()
    commits = after["commits"] - before["commits"]
    assert commits >= 2  # a commit acknowledges each send
    assert after["commit_ms"]["all"] == after["commits"]
    assert after["commit_ms"]["all"] - before["commit_ms"]["all"] == commits
    counts = list(after["commit_ms"].values())
    assert counts == sorted(counts) and list(after["commit_ms"]) == [
        "le_1",
        "le_5",
        "le_25",
        "le_100",
        "all",
    ]


@dataclass
class WaitingReceipt:
    """A practitioner's message and the patient's receipt of it, which the
    server keeps waiting for another write (as long as it takes)."""

    server: RunningServer
    doctor: Secure
    patient: Secure
    patient_id: int
    thread: int
    sent: SendResult
    commits: int  # the server's, the receipt waiting
    receipt: asyncio.Future[Empty]


@contextlib.asynccontextmanager
async def waiting_receipt(
    make_server: Callable[..., RunningServer],
) -> AsyncIterator[WaitingReceipt]:
    # No reminders' round either: it is a write, the receipt would go with it.
    server = make_server(receipts_wait_seconds=3600, reminder_poll_seconds=3600)
    doctor_creds = await server.user("practitioner")
    patient_creds = await server.user("patient")
    await server.add_patient(doctor_creds, patient_creds)
    async with server.secure(doctor_creds) as doctor, server.secure(patient_creds) as patient:
        thread = await doctor.call(
            "threads.open",
            ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [patient_creds.user_id]),
        )
        sent = await doctor.send(thread.id, "Vos résultats sont arrivés.")
        commits = await server.healthz("commits")
        receipt = asyncio.ensure_future(
            patient.call("receipts.delivered", ReceiptParams(thread.id, sent.thread_seq))
        )
        done, _ = await asyncio.wait({receipt}, timeout=0.3)
        assert not done and await server.healthz("commits") == commits  # waiting, not stored
        try:
            yield WaitingReceipt(
                server, doctor, patient, patient_creds.user_id, thread.id, sent, commits, receipt
            )
        finally:
            receipt.cancel()


async def test_a_receipt_is_stored_with_the_next_write_it_waits_for(make_server) -> None:  # type: ignore[no-untyped-def]
    """A receipt waiting for another write to share its commit is answered
    once the next send commits, in one commit with it; the practitioner
    then hears it. A call that must wait for a receipt's answer (not
    pipelined) hurries it."""
    async with waiting_receipt(make_server) as w:
        before = w.commits
        await w.doctor.send(w.thread, "Le compte rendu suit.")
        await asyncio.wait_for(w.receipt, 5)
        assert await w.server.healthz("commits") == before + 1
        moved = await w.doctor.next_event("receipt")
        assert (moved.data.user, moved.data.delivered_seq) == (w.patient_id, w.sent.thread_seq)

        read = asyncio.ensure_future(
            w.patient.call("receipts.read", ReceiptParams(w.thread, w.sent.thread_seq))
        )
        listed = await asyncio.wait_for(w.patient.call("threads.list", Empty()), 5)
        assert [info.id for info in listed.threads] == [w.thread]
        await asyncio.wait_for(read, 5)
        assert await w.server.healthz("commits") == before + 2


async def test_a_read_while_the_delivery_waits_takes_its_place(make_server) -> None:  # type: ignore[no-untyped-def]
    """The patient reads the message their device acknowledged while that
    receipt waits for company: one write for both, in the next send's
    commit, both answered, and the practitioner hears one receipt, read.
    (Behind the waiting one, the read would wait for company itself.)"""
    async with waiting_receipt(make_server) as w:
        seq = w.sent.thread_seq
        read = asyncio.ensure_future(w.patient.call("receipts.read", ReceiptParams(w.thread, seq)))
        done, _ = await asyncio.wait({read}, timeout=0.3)
        assert not done and await w.server.healthz("commits") == w.commits
        await w.doctor.send(w.thread, "Le compte rendu suit.")
        await asyncio.wait_for(asyncio.gather(w.receipt, read), 5)
        assert await w.server.healthz("commits") == w.commits + 1
        moved = await w.doctor.next_event("receipt")
        assert (moved.data.user, moved.data.delivered_seq, moved.data.read_seq) == (
            w.patient_id,
            seq,
            seq,
        )


async def test_a_stopping_node_stores_a_waiting_receipt_without_waiting_it_out(make_server) -> None:  # type: ignore[no-untyped-def]
    async with waiting_receipt(make_server) as w:
        assert w.server.process is not None
        w.server.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(w.receipt, 5)  # answered (stored) before its socket closed
        exit_code = await asyncio.to_thread(w.server.process.wait, 10)
    assert exit_code == -signal.SIGTERM  # a graceful stop, in seconds, not an hour


async def test_receipts_sent_at_once_are_each_answered_and_a_bad_one_alone(make_server) -> None:  # type: ignore[no-untyped-def]
    """Receipts that arrive together are written together (one statement on
    PostgreSQL): each is answered as if it were alone, one out of range is
    refused without its neighbours, and the practitioner hears each move once."""
    server = make_server()
    doctor_creds = await server.user("practitioner")
    patients = [await server.user("patient") for _ in range(5)]
    for patient in patients:
        await server.add_patient(doctor_creds, patient)
    async with server.secure(doctor_creds) as doctor, contextlib.AsyncExitStack() as stack:
        links = [await stack.enter_async_context(server.secure(p)) for p in patients]
        seqs: dict[int, int] = {}
        for patient in patients:
            opened = ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [patient.user_id])
            thread = (await doctor.call("threads.open", opened)).id
            seqs[thread] = (await doctor.send(thread, "Vos résultats sont arrivés.")).thread_seq
        reads = [
            link.call("receipts.read", ReceiptParams(thread, seq))
            for link, (thread, seq) in zip(links, seqs.items(), strict=True)
        ]
        beyond = ReceiptParams(next(iter(seqs)), 99)
        *answers, refusal = await asyncio.gather(
            *reads, doctor.call("receipts.read", beyond), return_exceptions=True
        )
        assert not any(isinstance(answer, BaseException) for answer in answers), answers
        assert isinstance(refusal, CallError) and refusal.code == "invalid"
        moved = [(await doctor.next_event("receipt")).data for _ in patients]
        readers = {thread: p.user_id for thread, p in zip(seqs, patients, strict=True)}
        assert {r.thread: (r.user, r.delivered_seq, r.read_seq) for r in moved} == {
            thread: (readers[thread], seq, seq) for thread, seq in seqs.items()
        }
        # nothing more: the next event after them is a message sent after them
        await links[0].send(next(iter(seqs)), "Merci.")
        assert (await doctor.next_event("receipt", "message.new")).type == "message.new"
