"""Rows written straight into a test database, for storage-level tests."""

from __future__ import annotations

from sqlalchemy import insert

from storage import Store, WriteTx
from storage.messages import StoredMessage
from storage.schema import devices, participants, threads, users
from storage.threads import SendAsk
from storage.tx import write_tx

__all__ = ["append", "people", "person", "send", "thread_of"]


async def thread_of(store: Store, patient: int, doctor: int) -> tuple[int, int]:
    """A patient-practitioner thread of the two, and a device of the patient's."""
    async with store.db.write() as conn:
        values = {"kind": "patient_practitioner", "created_by": patient, "created_at": 0}
        thread = await conn.scalar(insert(threads).values(**values).returning(threads.c.id))
        for user in (patient, doctor):
            member = {"thread_id": thread, "user_id": user, "joined_at": 0}
            await conn.execute(insert(participants).values(**member))
        device = {"user_id": patient, "name": "phone", "created_at": 0}
        device_id = await conn.scalar(insert(devices).values(**device).returning(devices.c.id))
    assert thread is not None and device_id is not None
    return thread, device_id


async def person(store: Store, name: str, role: str) -> int:
    """A user, written straight into the tables."""
    values = {"username": name, "display_name": name, "role": role}
    values |= {"password_hash": "-", "created_at": 0}
    async with store.db.write() as conn:
        user = await conn.scalar(insert(users).values(**values).returning(users.c.id))
    assert user is not None
    return user


async def people(store: Store) -> tuple[int, int]:
    """A patient and a practitioner, written straight into the tables."""
    return await person(store, "pat", "patient"), await person(store, "doc", "practitioner")


async def append(
    tx: WriteTx,
    ask: SendAsk,
    *,
    reader: int | None,
    thread_reply_allowed: bool | None = None,
    envelope: bytes = b"sealed",
) -> tuple[StoredMessage, bool]:
    """The message ``ask`` names, stored in ``tx`` as its send stores it
    (counted for its recipient's daily limit); whether ``reader``'s
    receipt moved."""
    return await tx.messages.append(
        thread_id=ask.thread_id,
        sender_id=ask.sender,
        sender_device_id=ask.device_id or None,
        client_msg_id=ask.client_msg_id,
        kind="text",
        reason=None,
        reply_allowed=True,
        envelope=envelope,
        now=ask.now,
        thread_reply_allowed=thread_reply_allowed,
        reader=reader,
        counted_for=ask.recipient,
    )


async def send(
    store: Store,
    thread: int,
    device: int | None,
    sender: int,
    *,
    at: int,
    client_msg_id: str,
    thread_reply_allowed: bool | None = None,
    reader: int | None = None,
    counted_for: int | None = None,
) -> tuple[int, bool]:
    """A message stored as a send stores it, after the send's read, as in
    the server; its seq, and whether ``reader``'s receipt moved."""
    ask = SendAsk(thread, device or 0, client_msg_id, sender, counted_for, at)
    async with write_tx(store.db) as tx:
        await tx.threads.send_state(ask)
        message, read = await append(
            tx, ask, reader=reader, thread_reply_allowed=thread_reply_allowed
        )
    return message.seq, read
