"""The push queue reads the event stream a batch at a time and catches up
in one round, whatever the traffic since the last; it stops before a
message still in its grace period, and a round goes only as far as the
stream had reached a grace period before."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from sqlalchemy import insert, select

from protocol.push import NotifyPreferences
from server.push_progress import GRACE_MS, PushProgress
from server.push_queue import EMAIL, EMAIL_EVERY_MS, PUSH, push_round, queue_pushes
from storage import PushTarget, Store
from storage.events import NewEvent
from storage.messages import MessageTx
from storage.schema import devices, messages, notification_outbox
from storage.tx import write_tx
from tests.support.rows import people, send, thread_of


class _Online:
    """Presence with the given devices open."""

    def __init__(self, *devices: int) -> None:
        self.devices = set(devices)

    async def live_devices(self, user_ids: Any) -> set[int]:
        return set(self.devices)


class _Gateway:
    """Takes every notification handed over: (kind, thread) of each push."""

    def __init__(self) -> None:
        self.pushes: list[tuple[str, int]] = []

    async def deliver(self, notification_id: int, user_id: int, kind: str, body: Any) -> None:
        assert kind == PUSH
        self.pushes.append((body["kind"], body["thread"]))


class _Practice:
    """A patient and a practitioner whose desk is subscribed and closed;
    the push queue's position at 0, its monotonic clock at ``self.monotonic``
    seconds."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.monotonic = 0.0
        self.ctx: Any = SimpleNamespace(  # what of a node's Context the push queue uses
            hub=SimpleNamespace(delivered=0),
            push=PushProgress(position=0, clock=lambda: self.monotonic),
            store=store,
            presence=_Online(),
            clock=SimpleNamespace(ms=lambda: 10 * GRACE_MS),  # every message is old
            settings=SimpleNamespace(notification_claim_seconds=60),
        )

    async def open(self) -> _Practice:
        await self.store.db.migrate()
        self.patient, self.doctor = await people(self.store)
        async with self.store.db.write() as conn:
            desk = {"user_id": self.doctor, "name": "desk", "created_at": 0}
            desk_id = await conn.scalar(insert(devices).values(**desk).returning(devices.c.id))
        assert desk_id is not None
        self.desk = desk_id
        target = PushTarget(desk_id, self.doctor, "https://push.example/desk", "key", "auth", False)
        await self.store.push.subscribe(target, 0)
        async with write_tx(self.store.db) as tx:
            await tx.push.advance(0)
        return self

    async def message(self, n: int, *, notice: bool = False) -> NewEvent:
        """The patient's message (a server's notice: no device) in a new thread."""
        thread, phone = await thread_of(self.store, self.patient, self.doctor)
        await send(
            self.store, thread, None if notice else phone, self.patient, at=n, client_msg_id=f"m{n}"
        )
        async with self.store.db.read() as conn:
            found = await conn.scalar(select(messages.c.id).where(messages.c.thread_id == thread))
        return NewEvent("message.new", thread, message_id=found)

    async def stored(self, news: list[NewEvent], now: int) -> list[int]:
        async with write_tx(self.store.db) as tx:
            seqs = await tx.events.store([(None, event) for event in news], now, tx.audit)
        self.ctx.hub.delivered = seqs[-1]
        return seqs

    async def told(self) -> list[tuple[str, int]]:
        """What the outbox holds for the desk: (kind, thread) of each push."""
        query = select(notification_outbox.c.body).where(notification_outbox.c.kind == PUSH)
        async with self.store.db.read() as conn:
            bodies = (await conn.scalars(query)).all()
        return sorted((body["kind"], body["thread"]) for body in map(json.loads, bodies))

    async def position(self) -> int:
        async with write_tx(self.store.db) as tx:
            return await tx.push.position()


@pytest.fixture
async def practice(database_factory) -> AsyncIterator[_Practice]:
    store = Store(database_factory())
    try:
        yield await _Practice(store).open()
    finally:
        await store.close()


async def test_a_round_takes_batch_after_batch_until_it_has_caught_up(practice: _Practice) -> None:
    """Five messages in five threads and a cancelled appointment, read two
    events at a time: one round queues the six pushes and moves past them all."""
    news = [await practice.message(n) for n in range(5)]
    cancelled = msgspec.msgpack.encode({"cancelled_by": practice.patient})
    news.append(NewEvent("appointment.cancelled", user_id=practice.doctor, data=cancelled))
    seqs = await practice.stored(news, 5)

    assert await queue_pushes(practice.ctx, 5 + GRACE_MS + 1, seqs[-1], batch=2) == 6

    assert practice.ctx.push.position == await practice.position() == seqs[-1]
    threads = sorted(event.thread_id or 0 for event in news[:5])
    assert await practice.told() == [("appointment", 0), *(("message", t) for t in threads)]


async def test_a_round_stops_before_a_message_in_its_grace_period(practice: _Practice) -> None:
    """A server's notice and a receipt are passed over; a message younger
    than ``GRACE_MS`` is left for a later round, and the position stops
    before it, even in a full batch."""
    old = await practice.message(0)
    notice = await practice.message(1, notice=True)
    seqs = await practice.stored([old, notice, NewEvent("receipt", old.thread_id)], 0)
    young = [await practice.message(2), await practice.message(3)]
    young_seqs = await practice.stored(young, GRACE_MS)
    young_seq = young_seqs[0]

    assert await queue_pushes(practice.ctx, GRACE_MS, young_seqs[-1], batch=2) == 1

    assert await practice.position() == young_seq - 1 >= seqs[-1]
    assert await practice.told() == [("message", old.thread_id)]


async def test_a_round_goes_as_far_as_the_stream_was_a_grace_period_before(
    practice: _Practice,
) -> None:
    """A message long past its grace period waits until the node has seen
    the stream hold it for a grace period: a node's first round queues
    nothing, its round a grace period later pushes the message."""
    news = await practice.message(0)
    await practice.stored([news], 0)
    gateway: Any = _Gateway()

    await push_round(practice.ctx, gateway)
    assert gateway.pushes == []
    assert await practice.position() == 0

    practice.monotonic += GRACE_MS / 1000
    await push_round(practice.ctx, gateway)
    assert gateway.pushes == [("message", news.thread_id)]


async def test_a_round_counts_no_unread_messages_for_a_reader_it_cannot_reach(
    practice: _Practice, monkeypatch
) -> None:
    """The practitioner's only subscribed device is open: a round pushes
    nothing and never counts their unread messages. Once the desk closes,
    the next message is pushed with its count."""
    counted: list[Any] = []
    unread_counts = MessageTx.unread_counts

    async def counting(self: MessageTx, asked: Any) -> list[int]:
        counted.extend(asked)
        return await unread_counts(self, asked)

    monkeypatch.setattr(MessageTx, "unread_counts", counting)
    practice.ctx.presence = _Online(practice.desk)
    first = await practice.message(0)
    seqs = await practice.stored([first], 0)

    assert await queue_pushes(practice.ctx, GRACE_MS + 1, seqs[-1]) == 0
    assert counted == []

    practice.ctx.presence = _Online()
    second = await practice.message(1)
    seqs = await practice.stored([second], 1)
    assert await queue_pushes(practice.ctx, GRACE_MS + 2, seqs[-1]) == 1
    assert [reader for _, reader, _ in counted] == [practice.doctor]
    assert await practice.told() == [("message", second.thread_id)]


async def test_a_patient_without_the_app_is_emailed_of_a_changed_appointment_not_a_reminder(
    practice: _Practice,
) -> None:
    """The patient has an address and no subscribed device: an appointment
    they cancelled themselves, and a reminder (which has its own email),
    queue nothing; one the practitioner cancelled queues an email that
    says only "appointment"."""
    address = msgspec.msgpack.encode(NotifyPreferences(email="ana@example.org"))
    await practice.store.push.set_preferences(practice.patient, address, 0)
    patient = practice.patient

    def cancelled(by: int) -> NewEvent:
        data = msgspec.msgpack.encode({"cancelled_by": by})
        return NewEvent("appointment.cancelled", user_id=patient, data=data)

    now = EMAIL_EVERY_MS  # "never emailed" counts as emailed at 0: an hour ago by now
    ignored = [cancelled(patient), NewEvent("appointment.reminder", user_id=patient)]
    seqs = await practice.stored(ignored, 0)
    assert await queue_pushes(practice.ctx, now, seqs[-1]) == 0

    seqs = await practice.stored([cancelled(practice.doctor)], 1)
    assert await queue_pushes(practice.ctx, now + 1, seqs[-1]) == 1
    query = select(notification_outbox.c.user_id, notification_outbox.c.body).where(
        notification_outbox.c.kind == EMAIL
    )
    async with practice.store.db.read() as conn:
        emails = [(user, json.loads(body)) for user, body in await conn.execute(query)]
    assert emails == [(patient, {"kind": "appointment"})]
