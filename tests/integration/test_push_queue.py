"""The push queue reads the event stream a batch at a time and catches up
in one round, whatever the traffic since the last."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import msgspec
from sqlalchemy import insert, select

from server.push_queue import GRACE_MS, PUSH, queue_pushes
from storage import PushTarget, Store
from storage.events import NewEvent
from storage.schema import devices, messages, notification_outbox
from storage.tx import write_tx
from tests.support.rows import people, send, thread_of


class _NobodyOnline:
    async def live_devices(self, user_ids: Any) -> set[int]:
        return set()


async def test_a_round_takes_batch_after_batch_until_it_has_caught_up(database_factory) -> None:
    """Five messages in five threads and a cancelled appointment, read two
    events at a time: one round queues the six pushes and moves past them all."""
    store = Store(database_factory())
    try:
        await store.db.migrate()
        patient, doctor = await people(store)
        async with store.db.write() as conn:
            desk = {"user_id": doctor, "name": "desk", "created_at": 0}
            desk_id = await conn.scalar(insert(devices).values(**desk).returning(devices.c.id))
        assert desk_id is not None
        target = PushTarget(desk_id, doctor, "https://push.example/desk", "key", "auth", False)
        await store.push.subscribe(target, 0)
        async with write_tx(store.db) as tx:
            await tx.push.advance(0)
        threads = []
        for n in range(5):
            thread, phone = await thread_of(store, patient, doctor)
            await send(store, thread, phone, patient, at=n, client_msg_id=f"m{n}")
            threads.append(thread)
        async with store.db.read() as conn:
            rows = await conn.execute(select(messages.c.thread_id, messages.c.id))
            sent = {thread: message for thread, message in rows}
        async with write_tx(store.db) as tx:
            news = [NewEvent("message.new", t, message_id=sent[t]) for t in threads]
            cancelled = msgspec.msgpack.encode({"cancelled_by": patient})
            news.append(NewEvent("appointment.cancelled", user_id=doctor, data=cancelled))
            seqs = await tx.events.store([(None, event) for event in news], 5, tx.audit)
        ctx = SimpleNamespace(
            hub=SimpleNamespace(delivered=seqs[-1]),
            push_position=0,
            store=store,
            presence=_NobodyOnline(),
        )

        assert await queue_pushes(ctx, 5 + GRACE_MS + 1, batch=2) == 6  # type: ignore[arg-type]

        assert ctx.push_position == seqs[-1]
        async with write_tx(store.db) as tx:
            assert await tx.push.position() == seqs[-1]
        async with store.db.read() as conn:
            bodies = (
                await conn.scalars(
                    select(notification_outbox.c.body).where(notification_outbox.c.kind == PUSH)
                )
            ).all()
        told = sorted((body["kind"], body["thread"]) for body in map(json.loads, bodies))
        assert told == [("appointment", 0), *(("message", t) for t in sorted(threads))]
    finally:
        await store.close()
