"""A patient's daily limit reads hourly counts, not their messages: the
upgrade counts the last day's messages already sent, and the retention
chore forgets hours no limit reads any more."""

from __future__ import annotations

import time

from sqlalchemy import insert, literal

from storage import Store
from storage.messages import HOUR_MS, day_before, sent_last_day
from storage.schema import messages
from tests.support.rows import people, send, thread_of


async def _sent_last_day(store: Store, patient: int, doctor: int, now: int) -> int:
    """What a send's daily limit reads (``ThreadTx.send_state``)."""
    query = sent_last_day(literal(patient), literal(doctor), literal(day_before(now)))
    async with store.db.read() as conn:
        return int(await conn.scalar(query) or 0)


async def test_the_upgrade_counts_the_last_day_already_sent(database_factory) -> None:
    store = Store(database_factory())
    try:
        await store.db.migrate("0016")
        patient, doctor = await people(store)
        thread, device = await thread_of(store, patient, doctor)
        now = int(time.time() * 1000)
        # two this hour, one 23 hours ago, one two days ago, one notice (no device)
        sent = [now, now - 1, now - 23 * HOUR_MS, now - 48 * HOUR_MS]
        rows = [
            {"thread_id": thread, "seq": seq, "sender_id": patient, "sender_device_id": device}
            | {"client_msg_id": f"m{seq}", "kind": "text", "envelope": b"", "sent_at": at}
            for seq, at in enumerate(sent, 1)
        ]
        rows.append(rows[0] | {"seq": 9, "client_msg_id": "n", "sender_device_id": None})
        async with store.db.write() as conn:
            await conn.execute(insert(messages), rows)
        await store.db.migrate()
        assert await _sent_last_day(store, patient, doctor, now) == 3
        assert await _sent_last_day(store, doctor, patient, now) == 0
    finally:
        await store.close()


async def test_counts_older_than_a_day_are_forgotten(database_factory) -> None:
    store = Store(database_factory())
    try:
        await store.db.migrate()
        patient, doctor = await people(store)
        thread, device = await thread_of(store, patient, doctor)
        now = 1_000 * HOUR_MS
        for n, at in enumerate((now - 24 * HOUR_MS, now - 23 * HOUR_MS, now, now)):
            sent = {"at": at, "client_msg_id": f"m{n}", "counted_for": doctor}
            await send(store, thread, device, patient, **sent)
        assert await _sent_last_day(store, patient, doctor, now) == 3
        assert await store.messages.forget_sent_counts(now) == 1
        assert await _sent_last_day(store, patient, doctor, now) == 3
        assert await _sent_last_day(store, patient, doctor, now + HOUR_MS) == 2
    finally:
        await store.close()
