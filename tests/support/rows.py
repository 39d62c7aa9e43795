"""Rows written straight into a test database, for storage-level tests."""

from __future__ import annotations

from sqlalchemy import insert

from storage import Store
from storage.messages import NewMessage
from storage.schema import devices, participants, threads, users
from storage.threads import SendAsk
from storage.tx import write_tx

__all__ = ["people", "send", "thread_of"]


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


async def people(store: Store) -> tuple[int, int]:
    """A patient and a practitioner, written straight into the tables."""
    async with store.db.write() as conn:
        ids = []
        for name, role in (("pat", "patient"), ("doc", "practitioner")):
            values = {"username": name, "display_name": name, "role": role}
            values |= {"password_hash": "-", "created_at": 0}
            ids.append(await conn.scalar(insert(users).values(**values).returning(users.c.id)))
    return ids[0], ids[1]


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
    async with write_tx(store.db) as tx:
        await tx.threads.send_state(
            SendAsk(thread, device or 0, client_msg_id, sender, counted_for, at)
        )
        message, read = await tx.messages.append(
            NewMessage(
                thread_id=thread,
                sender_id=sender,
                sender_device_id=device,
                client_msg_id=client_msg_id,
                kind="text",
                reason=None,
                reply_allowed=True,
                envelope=b"sealed",
                now=at,
                thread_reply_allowed=thread_reply_allowed,
                reader=reader,
                counted_for=counted_for,
            )
        )
    return message.seq, read
