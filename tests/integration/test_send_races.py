"""Another node commits between a send's read and its write. The read takes
no lock, so a patient's message could be stored after the practitioner
closed the thread on another node, or a removed member's after their
removal. The write checks again under the thread's lock
(``storage.messages._unchanged``): the send runs again, reads what the
other node wrote, and is refused, with nothing stored.

Two real nodes on one PostgreSQL and one Redis: ``here`` runs in the
test's process, so the test can make ``there`` commit right after a send's
read here, alone or a burst's read ahead."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from clients import Credentials
from protocol.methods import ThreadMemberParams, ThreadParams, ThreadsOpenParams
from protocol.model import ThreadKind
from storage.threads import ThreadTx
from tests.support.clocked import TravelClock, clocked_server
from tests.support.held import held_writer
from tests.support.postgres import create_database
from tests.support.server import RunningServer, start_server
from tests.support.wire import call_frame, greeted, ok, send_params

Change = Callable[[], Awaitable[None]]


class Meanwhile:
    """Makes the next read of a send's state (``ThreadTx.send_state``, or
    ``read_ahead`` for a burst) run ``change`` right after it, once;
    ``made``: after which read it ran."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._change: Change | None = None
        self.made: list[str] = []
        for name in ("send_state", "read_ahead"):
            monkeypatch.setattr(ThreadTx, name, self._then_change(name, getattr(ThreadTx, name)))

    def after_next_read(self, change: Change) -> None:
        self._change = change

    def _then_change(
        self, name: str, read: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        async def reading(tx: ThreadTx, asked: Any) -> Any:
            found = await read(tx, asked)
            change, self._change = self._change, None
            if change is not None and found:  # a read ahead of fewer than two reads nothing
                await change()
                self.made.append(name)
            else:
                self._change = change
            return found

        return reading


@pytest.fixture
async def two_nodes(
    postgres: Any, redis_server: Any, tmp_path: Path
) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    db = create_database(postgres, f"r_{uuid.uuid4().hex[:12]}")
    shared = {"redis": redis_server.url, "blob_dir": tmp_path / "blobs"}
    async with clocked_server(db, tmp_path, TravelClock(), node_id="here", **shared) as here:
        there = start_server(db, tmp_path, node_id="there", **shared)
        there.usernames, there.keys = here.usernames, here.keys
        try:
            yield here, there
        finally:
            there.stop()


def _closing(there: RunningServer, doctor: Credentials, thread: int, members: list[int]) -> Change:
    """The practitioner closes the thread (``members``: as every change is given)."""
    return lambda: _call(there, doctor, "threads.close", ThreadParams(thread))


def _final_word(
    there: RunningServer, doctor: Credentials, thread: int, members: list[int]
) -> Change:
    """The practitioner's message that takes no answer."""
    final = send_params(there, doctor, thread, members, "final") | {"reply_allowed": False}

    async def send() -> None:
        async with greeted(there, doctor) as desk:
            ok(await desk.call(1, "messages.send", final))

    return send


@pytest.mark.parametrize(
    ("change", "reason", "kinds"),
    [
        (_closing, "thread_closed", ["notice", "notice"]),  # opened, closed: no more
        (_final_word, "reply_not_allowed", ["notice", "text"]),  # the practitioner's alone
    ],
)
async def test_a_patients_message_is_refused_once_another_node_changed_the_thread(
    two_nodes: tuple[RunningServer, RunningServer],
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[..., Change],
    reason: str,
    kinds: list[str],
) -> None:
    here, there = two_nodes
    meanwhile = Meanwhile(monkeypatch)
    doctor, patient, thread = await here.patient_thread()
    members = [doctor.user_id, patient.user_id]
    meanwhile.after_next_read(change(there, doctor, thread, members))
    async with greeted(here, patient) as phone:
        answer = await phone.call(1, "messages.send", send_params(here, patient, thread, members))
    assert meanwhile.made == ["send_state"]
    assert _reason(answer) == reason
    assert await _kinds(here, doctor, thread) == kinds


async def test_a_patients_burst_read_ahead_is_refused_once_another_node_closed_the_thread(
    two_nodes: tuple[RunningServer, RunningServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The burst shares one batch (the writer held while it queues), read
    ahead in one statement and stored in one round trip: the write that
    finds the thread closed fails the batch, which runs again as one,
    read anew: each send is refused."""
    here, there = two_nodes
    meanwhile = Meanwhile(monkeypatch)
    doctor, patient, thread = await here.patient_thread()
    members = [doctor.user_id, patient.user_id]
    burst = [send_params(here, patient, thread, members, f"m{n}") for n in range(3)]
    meanwhile.after_next_read(_closing(there, doctor, thread, members))
    assert here.context is not None
    writer = here.context.writer
    async with greeted(here, patient) as phone:
        async with held_writer(writer) as submitted:
            for call_id, params in enumerate(burst, 1):
                await phone.send(call_frame(call_id, "messages.send", params))
            await submitted(len(burst))
            commits = writer.commits
        answers = [await phone.receive("result", "error") for _ in burst]
    assert meanwhile.made == ["read_ahead"]
    assert writer.commits == commits + 2  # the one held, then the burst's, run again
    assert [_reason(answer) for answer in answers] == ["thread_closed"] * len(burst)
    assert await _kinds(here, doctor, thread) == ["notice", "notice"]


async def test_a_members_message_is_refused_once_another_node_removed_them(
    two_nodes: tuple[RunningServer, RunningServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, there = two_nodes
    meanwhile = Meanwhile(monkeypatch)
    doctor, colleague = await here.user("practitioner"), await here.user("practitioner")
    async with here.client(doctor) as desk:
        group = ThreadsOpenParams(ThreadKind.GROUP, [colleague.user_id])
        team = (await desk.call("threads.open", group)).id
    removal = ThreadMemberParams(team, colleague.user_id)
    meanwhile.after_next_read(lambda: _call(there, doctor, "threads.remove_member", removal))
    async with greeted(here, colleague) as link:
        params = send_params(here, colleague, team, [doctor.user_id, colleague.user_id])
        answer = await link.call(1, "messages.send", params)
    assert meanwhile.made == ["send_state"]
    assert (answer["t"], answer["code"]) == ("error", "forbidden")
    assert await _kinds(here, doctor, team) == ["notice"]  # the removal's, and nothing after


async def _call(node: RunningServer, user: Credentials, method: str, params: Any) -> None:
    async with node.client(user) as client:
        await client.call(method, params)


def _reason(answer: dict[str, Any]) -> str:
    assert answer["t"] == "error", answer
    reason: str = answer["details"]["reason"]
    return reason


async def _kinds(node: RunningServer, reader: Credentials, thread: int) -> list[str]:
    """The kinds of the thread's messages, oldest first."""
    async with greeted(node, reader) as link:
        found = ok(await link.call(1, "messages.history", {"thread": thread}))
    return [message["kind"] for message in reversed(found["messages"])]
