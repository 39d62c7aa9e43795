"""Care-team group members added and removed through real sockets: the
change is visible to all, and a removed member gets nothing new."""

from __future__ import annotations

import pytest

from clients.errors import CallError
from protocol.errors import ErrorCode
from protocol.methods import HistoryParams, ThreadMemberParams, ThreadsOpenParams
from protocol.model import ThreadKind
from protocol.practice import Notice, NoticeKind
from tests.integration.test_practice import refused
from tests.support.server import RunningServer


async def test_members_join_and_leave_a_care_team(server: RunningServer) -> None:
    doctor = await server.user("practitioner")
    colleague = await server.user("practitioner")
    patient = await server.user("patient")
    async with (
        server.secure(doctor) as doc,
        server.secure(colleague) as other,
        server.secure(patient) as client,
    ):
        with_stranger = ThreadsOpenParams(ThreadKind.GROUP, [colleague.user_id, patient.user_id])
        await refused(doc.call("threads.open", with_stranger), "not_a_patient")
        group = ThreadsOpenParams(ThreadKind.GROUP, [colleague.user_id])
        team = (await doc.call("threads.open", group)).id
        joining = ThreadMemberParams(team, patient.user_id)
        await refused(doc.call("threads.add_member", joining), "not_a_patient")
        await server.add_patient(doctor, patient)
        added = await doc.call("threads.add_member", joining)
        assert {m.user for m in added.members} == {
            doctor.user_id,
            colleague.user_id,
            patient.user_id,
        }
        for side in (other, client):  # everyone sees who joined, the newcomer too
            notice = await side.read((await side.next_event("message.new")).data)
            assert isinstance(notice, Notice)
            assert (notice.kind, notice.by, notice.user) == (
                NoticeKind.MEMBER_ADDED,
                doctor.user_id,
                patient.user_id,
            )
        await refused(
            client.call("threads.add_member", ThreadMemberParams(team, colleague.user_id)),
            "not_care_team",
        )
        pair = await doc.call(
            "threads.open",
            ThreadsOpenParams(ThreadKind.PRACTITIONER_PRACTITIONER, [colleague.user_id]),
        )
        await refused(
            doc.call("threads.add_member", ThreadMemberParams(pair.id, patient.user_id)), "role"
        )

        removed = await doc.call(
            "threads.remove_member", ThreadMemberParams(team, colleague.user_id)
        )
        assert colleague.user_id not in {m.user for m in removed.members}
        while True:  # past the thread.updated of the patient joining
            out = (await other.next_event("thread.updated")).data
            if colleague.user_id not in {m.user for m in out.members}:
                break
        assert out.id == team
        seen = await client.read((await client.next_event("message.new")).data)
        assert isinstance(seen, Notice) and seen.kind is NoticeKind.MEMBER_REMOVED

        await doc.send(team, "Only the two of us now.")
        await doc.send(pair.id, "Are you there?")  # the colleague's next event must be this one
        event = await other.next_event("message.new")
        assert event.data.thread == pair.id, "a removed member received a group message"
        with pytest.raises(CallError) as raised:
            await other.call("messages.history", HistoryParams(team))
        assert raised.value.code == ErrorCode.FORBIDDEN

        await client.call("threads.remove_member", ThreadMemberParams(team, patient.user_id))
        listed = await client.call("threads.list")
        assert team not in {t.id for t in listed.threads}


async def test_the_last_member_leaving_loses_access_at_once(server: RunningServer) -> None:
    doctor, colleague = await server.user("practitioner"), await server.user("practitioner")
    async with server.client(doctor) as doc:
        pair = ThreadsOpenParams(ThreadKind.GROUP, [colleague.user_id])
        team = (await doc.call("threads.open", pair)).id
        await doc.call("messages.history", HistoryParams(team))  # cached: a member
        async with server.client(colleague) as other:
            await other.call("threads.remove_member", ThreadMemberParams(team, colleague.user_id))
        left = await doc.call("threads.remove_member", ThreadMemberParams(team, doctor.user_id))
        assert left.members == []
        with pytest.raises(CallError) as raised:
            await doc.call("messages.history", HistoryParams(team))
        assert raised.value.code == ErrorCode.FORBIDDEN
