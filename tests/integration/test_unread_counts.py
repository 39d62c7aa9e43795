"""Unread counts stop at ``UNREAD_CAP``: a member who left a thousand
messages unread costs each new message's popup and push, and their thread
list, no more than one who left a hundred."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from storage import Store
from storage.messages import UNREAD_CAP, NewMessage
from storage.push import Reader
from storage.schema import participants
from storage.tx import write_tx
from tests.support.rows import people, thread_of


async def _write(store: Store, thread: int, sender: int, device: int | None, count: int) -> None:
    async with write_tx(store.db) as tx:
        for n in range(count):
            await tx.messages.append(
                NewMessage(
                    thread_id=thread,
                    sender_id=sender,
                    sender_device_id=device,
                    client_msg_id=f"{device}-{n}",
                    kind="text",
                    reason=None,
                    reply_allowed=True,
                    envelope=b"sealed",
                    now=n,
                )
            )


@pytest.mark.parametrize(("sent", "counted"), [(3, 3), (UNREAD_CAP, UNREAD_CAP), (250, UNREAD_CAP)])
async def test_the_count_stops_at_the_cap(database_factory, sent: int, counted: int) -> None:
    store = Store(database_factory())
    try:
        await store.db.migrate()
        patient, doctor = await people(store)
        thread, device = await thread_of(store, patient, doctor)
        await _write(store, thread, patient, None, 5)  # notices: never counted
        await _write(store, thread, patient, device, sent)
        last = 5 + sent
        assert await store.messages.unread(thread, 0, last) == counted
        assert await store.messages.unread(thread, last - 2, last) == 2  # read all but two
        assert await store.messages.unread(thread, last - 2, last - 1) == 1  # up to the one before
        (listed,) = await store.threads.list_for(doctor)
        assert listed.unread == counted
        (own,) = await store.threads.list_for(patient)
        assert own.unread == 0  # one's own messages are not unread
        async with write_tx(store.db) as tx:  # a push round's counts, in the order asked
            asked = [(thread, doctor, 0), (thread, patient, 0), (thread + 1, doctor, 0)]
            asked.append((thread, doctor, 5 + sent - 1))
            assert await tx.messages.unread_counts(asked) == [counted, 0, 0, 1]
            assert await tx.messages.unread_counts([]) == []
    finally:
        await store.close()


async def test_a_push_round_reads_the_members_of_its_threads_at_once(database_factory) -> None:
    store = Store(database_factory())
    try:
        await store.db.migrate()
        patient, doctor = await people(store)
        first, _ = await thread_of(store, patient, doctor)
        second, _ = await thread_of(store, patient, doctor)
        async with store.db.write() as conn:
            await conn.execute(
                update(participants)
                .where(participants.c.thread_id == second, participants.c.user_id == doctor)
                .values(read_seq=4, muted=True)
            )
            await conn.execute(
                update(participants)
                .where(participants.c.thread_id == first, participants.c.user_id == patient)
                .values(left_seq=1)  # left: no longer told of anything
            )
        async with write_tx(store.db) as tx:
            found = await tx.push.readers([second, first, second + 100])
        assert found == {
            first: {doctor: Reader(0, False)},
            second: {patient: Reader(0, False), doctor: Reader(4, True)},
            second + 100: {},  # no such thread: no one to tell
        }
    finally:
        await store.close()
