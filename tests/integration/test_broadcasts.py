"""Broadcasts through real sockets: a thread per patient, no reply, opt-out."""

from __future__ import annotations

from protocol.methods import HistoryParams, ThreadsOpenParams
from protocol.model import ThreadKind
from protocol.practice import InboxSettings, PractitionerParams
from tests.integration.test_practice import refused
from tests.support.server import RunningServer


async def test_a_campaign_reaches_each_patient_who_did_not_opt_out(server: RunningServer) -> None:
    doctor = await server.user("practitioner")
    first, second, opted = [await server.user("patient") for _ in range(3)]
    stranger = await server.user("patient")
    for patient in (first, second, opted):
        await server.add_patient(doctor, patient)
    async with server.client(opted) as client:
        asked = PractitionerParams(doctor.user_id)
        assert (await client.call("practitioners.get", asked)).campaigns_opted_out is False
        await client.call("broadcasts.opt_out", asked)
        assert (await client.call("practitioners.get", asked)).campaigns_opted_out is True
    everyone = [first.user_id, second.user_id, opted.user_id, stranger.user_id]
    async with server.secure(doctor) as doc, server.secure(first) as reader:
        await refused(reader.broadcast([second.user_id], "spam"), "role")
        result = await doc.broadcast(everyone, "Flu vaccines are available.", reason="flu")
        threads = {reached.patient: reached.thread for reached in result.threads}
        assert set(threads) == {first.user_id, second.user_id}
        skipped = {skip.patient: skip.reason for skip in result.skipped}
        assert skipped == {opted.user_id: "opted_out", stranger.user_id: "not_a_patient"}

        thread = threads[first.user_id]
        listed = {t.id: t for t in (await reader.call("threads.list")).threads}
        assert listed[thread].reason == "flu" and listed[thread].reply_allowed is False
        history = (await reader.call("messages.history", HistoryParams(thread))).messages
        assert (await reader.open(history[0])).body.text == "Flu vaccines are available."
        await refused(reader.send(thread, "Thanks"), "reply_not_allowed")
        assert threads[first.user_id] != threads[second.user_id]

    async with server.client(opted) as client:
        await client.call("broadcasts.opt_in", PractitionerParams(doctor.user_id))
        again = await client.call("practitioners.get", PractitionerParams(doctor.user_id))
        assert again.campaigns_opted_out is False
    async with server.secure(doctor) as doc:
        await doc.call("inbox.set", InboxSettings(max_open_threads=1))
        again = await doc.broadcast([opted.user_id], "Reminder: vaccines.")
        assert [r.patient for r in again.threads] == [opted.user_id] and again.skipped == []
    async with server.client(opted) as client:  # broadcasts do not count as their requests
        opening = ThreadsOpenParams(
            ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], "after_visit"
        )
        await client.call("threads.open", opening)
        await refused(client.call("threads.open", opening), "open_threads")
