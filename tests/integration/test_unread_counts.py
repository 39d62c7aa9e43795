"""Unread counts stop at ``UNREAD_CAP``: a member who left a thousand
messages unread costs each new message's popup and push, and their thread
list, no more than one who left a hundred."""

from __future__ import annotations

import pytest

from storage import Store
from storage.messages import UNREAD_CAP
from storage.tx import write_tx
from tests.support.rows import people, thread_of


async def _write(store: Store, thread: int, sender: int, device: int | None, count: int) -> None:
    async with write_tx(store.db) as tx:
        for n in range(count):
            await tx.messages.append(
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


@pytest.mark.parametrize(("sent", "counted"), [(3, 3), (UNREAD_CAP, UNREAD_CAP), (250, UNREAD_CAP)])
async def test_the_count_stops_at_the_cap(database_factory, sent: int, counted: int) -> None:
    store = Store(database_factory())
    try:
        await store.db.migrate()
        patient, doctor = await people(store)
        thread, device = await thread_of(store, patient, doctor)
        await _write(store, thread, patient, None, 5)  # notices: never counted
        await _write(store, thread, patient, device, sent)
        assert await store.messages.unread(thread, 0) == counted
        assert await store.messages.unread(thread, 5 + sent - 2) == 2  # read all but two
        (listed,) = await store.threads.list_for(doctor)
        assert listed.unread == counted
        (own,) = await store.threads.list_for(patient)
        assert own.unread == 0  # one's own messages are not unread
        async with write_tx(store.db) as tx:  # a push's count
            assert await tx.messages.unread(thread, doctor, 0) == counted
            assert await tx.messages.unread(thread, patient, 0) == 0
    finally:
        await store.close()
