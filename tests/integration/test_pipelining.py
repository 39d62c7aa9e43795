"""A connection's sends and receipts are pipelined (``server.calls``): its
next frame is read while a write waits for the commit. Through a raw
socket, on both backends: one device's burst shares commits, and still
every answer comes in the order the calls came, every thread has the
device's messages in the order it sent them, and a read behind the burst
sees all of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clients import Credentials
from storage.threads import ThreadTx
from tests.support.clocked import TravelClock, clocked_server
from tests.support.held import held_writer
from tests.support.server import RunningServer
from tests.support.wire import Link, call_frame, greeted, ok, send_params


async def test_a_burst_of_sends_shares_commits_and_keeps_each_threads_order(
    server: RunningServer,
) -> None:
    doctor, patient, first = await server.patient_thread()
    other = await server.user("patient")
    second = await server.thread_with(doctor, other)
    members = {first: [doctor.user_id, patient.user_id], second: [doctor.user_id, other.user_id]}
    threads = [first if n % 3 else second for n in range(12)]
    sends = [send_params(server, doctor, t, members[t], f"m{n}") for n, t in enumerate(threads)]
    before = await server.healthz("commits")
    async with greeted(server, patient) as reader, greeted(server, doctor) as link:
        await _send_all(link, sends)
        answers = [await link.receive("result", "error") for _ in sends]
        assert [answer["id"] for answer in answers] == list(range(1, len(sends) + 1))
        stored = [ok(answer) for answer in answers]
        commits = await server.healthz("commits") - before
        assert commits < len(sends) // 2  # one each, had the connection waited for each
        live = [await _new_message(reader) for _ in range(threads.count(first))]
    for thread in (first, second):
        sent = [p["client_msg_id"] for t, p in zip(threads, sends, strict=True) if t == thread]
        seqs = [s["thread_seq"] for t, s in zip(threads, stored, strict=True) if t == thread]
        assert seqs == sorted(seqs) == list(range(seqs[0], seqs[0] + len(seqs)))
        assert [m["client_msg_id"] for m in await _history(server, doctor, thread)] == sent
    assert [m["client_msg_id"] for m in live] == [
        p["client_msg_id"] for t, p in zip(threads, sends, strict=True) if t == first
    ]


async def test_a_read_behind_a_burst_of_sends_sees_every_one(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    sends = _sends(server, doctor, [doctor, patient], thread, 8)
    async with greeted(server, doctor) as link:
        await _send_all(link, sends)
        await link.send(call_frame(99, "messages.history", {"thread": thread}))
        answers = [await link.receive("result", "error") for _ in range(len(sends) + 1)]
    assert [answer["id"] for answer in answers] == [*range(1, len(sends) + 1), 99]
    history = [m for m in reversed(ok(answers[-1])["messages"]) if m["kind"] != "notice"]
    assert [m["client_msg_id"] for m in history] == [p["client_msg_id"] for p in sends]


async def test_a_retry_right_behind_its_send_is_answered_as_its_duplicate(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    params = send_params(server, doctor, thread, [doctor.user_id, patient.user_id])
    async with greeted(server, doctor) as link:
        for call_id in (1, 2, 3):
            await link.send(call_frame(call_id, "messages.send", params))
        first, *retries = [ok(await link.receive("result", "error")) for _ in range(3)]
    assert not first.get("duplicate")
    for retry in retries:
        assert retry == first | {"duplicate": True}
    assert len(await _history(server, doctor, thread)) == 1


async def test_receipts_behind_sends_are_answered_in_order_and_stored(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    members = [doctor.user_id, patient.user_id]
    async with greeted(server, doctor) as link:
        for call_id in (1, 2, 3):
            params = send_params(server, doctor, thread, members, f"m{call_id}")
            ok(await link.call(call_id, "messages.send", params))
    async with greeted(server, patient) as link:
        frames = [
            call_frame(1, "receipts.delivered", {"thread": thread, "thread_seq": 1}),
            call_frame(2, "receipts.read", {"thread": thread, "thread_seq": 2}),
            call_frame(3, "receipts.delivered", {"thread": thread, "thread_seq": 3}),
            call_frame(4, "threads.list", {}),
        ]
        for frame in frames:
            await link.send(frame)
        answers = [await link.receive("result", "error") for _ in frames]
    assert [answer["id"] for answer in answers] == [1, 2, 3, 4]
    (listed,) = [t for t in ok(answers[-1])["threads"] if t["id"] == thread]
    assert (listed["delivered_seq"], listed["read_seq"]) == (3, 2)


def _sends(
    server: RunningServer, sender: Credentials, members: list[Credentials], thread: int, count: int
) -> list[dict[str, Any]]:
    """The parameters of ``count`` sends from ``sender`` to the thread."""
    ids = [member.user_id for member in members]
    return [send_params(server, sender, thread, ids, f"m{n}") for n in range(count)]


async def _send_all(link: Link, sends: list[dict[str, Any]]) -> None:
    """Each send's call, ids 1, 2, ..., without waiting for an answer."""
    for call_id, params in enumerate(sends, 1):
        await link.send(call_frame(call_id, "messages.send", params))


async def _new_message(link: Link) -> dict[str, Any]:
    data: dict[str, Any] = (await _event(link, "message.new"))["data"]
    return data


async def _history(server: RunningServer, reader: Credentials, thread: int) -> list[dict[str, Any]]:
    """The thread's messages sent by people (not the server's notices), oldest first."""
    async with greeted(server, reader) as link:
        found = ok(await link.call(1, "messages.history", {"thread": thread}))
    return [m for m in reversed(found["messages"]) if m["kind"] != "notice"]


async def test_a_burst_past_the_send_limit_is_refused_in_order_and_stores_only_what_passed(
    make_server: Any,
) -> None:
    server = make_server(sends_per_second=0.01, send_burst=3)
    doctor, patient, thread = await server.patient_thread()
    sends = _sends(server, doctor, [doctor, patient], thread, 6)
    async with greeted(server, doctor) as link:
        await _send_all(link, sends)
        await link.send(b"\xc1")  # not MessagePack: refused where it came
        answers = [await link.receive("result", "error") for _ in range(len(sends) + 1)]
    assert [answer["id"] for answer in answers] == [1, 2, 3, 4, 5, 6, None]
    assert [answer.get("code", "result") for answer in answers] == [
        *["result"] * 3,
        *["rate_limited"] * 3,
        "invalid",
    ]
    stored = [m["client_msg_id"] for m in await _history(server, doctor, thread)]
    assert stored == [p["client_msg_id"] for p in sends[:3]]


async def test_a_burst_behind_the_practitioners_message_pops_up_what_they_left_unread(
    database_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The practitioner's message and their patient's burst, stored in one
    commit: each of the patient's messages pops up on the practitioner's
    desk with what they left unread since their own message, one more each
    (in the writer's batch, the patient's sends find the practitioner's
    read seq moved by the message before them, on PostgreSQL read ahead)."""
    answered: list[int] = []  # by each read ahead
    read_ahead = ThreadTx.read_ahead

    async def counted_reads(self: ThreadTx, sends: Any) -> Any:
        answers = await read_ahead(self, sends)
        answered.append(len(answers))
        return answers

    monkeypatch.setattr(ThreadTx, "read_ahead", counted_reads)
    async with clocked_server(database_factory(), tmp_path, TravelClock()) as server:
        assert server.context is not None
        writer = server.context.writer
        doctor, patient, thread = await server.patient_thread()
        members = [doctor.user_id, patient.user_id]
        burst = _sends(server, patient, [doctor, patient], thread, 3)
        async with greeted(server, doctor) as desk, greeted(server, patient) as phone:
            foreground = {"status": "online", "foreground": True}
            ok(await desk.call(1, "presence.set", foreground))
            async with held_writer(writer) as submitted:
                own_send = send_params(server, doctor, thread, members)
                await desk.send(call_frame(2, "messages.send", own_send))
                await submitted(1)  # the practitioner's send waits in the writer first
                await _send_all(phone, burst)
                await submitted(len(burst))
                commits = writer.commits
            own = ok(await desk.receive("result", "error"))["thread_seq"]
            stored = [ok(await phone.receive("result", "error"))["thread_seq"] for _ in burst]
            popups = [(await _event(desk, "notify"))["data"] for _ in burst]
        assert writer.commits == commits + 2  # the one held, then all four in one
        assert answered == [0 if server.db.startswith("sqlite") else 4]  # SQLite: at its turn
        assert stored == [own + 1, own + 2, own + 3]
        assert [popup["unread"] for popup in popups] == [1, 2, 3]


async def _event(link: Link, kind: str) -> dict[str, Any]:
    while (event := await link.receive("event"))["type"] != kind:
        pass
    return event
