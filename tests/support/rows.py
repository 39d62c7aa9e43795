"""Rows written straight into a test database, for storage-level tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from storage import Store
from storage.messages import NewMessage, StoredMessage
from storage.schema import devices, participants, threads, users
from storage.threads import SendAsk, SendState
from storage.tx import WriteTx, write_tx

__all__ = ["people", "send", "send_in", "thread_of"]


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
    store: Store, thread: int, device: int | None, sender: int, **options: Any
) -> tuple[int, bool]:
    """A message stored as a send stores it (``send_in``), in a transaction
    of its own; its seq, and whether ``reader``'s receipt moved."""
    async with write_tx(store.db) as tx:
        _, message, read = await send_in(tx, thread, device, sender, **options)
    return message.seq, read


async def send_in(
    tx: WriteTx,
    thread: int,
    device: int | None,
    sender: int,
    *,
    at: int,
    client_msg_id: str,
    thread_reply_allowed: bool | None = None,
    reader: int | None = None,
    counted_for: int | None = None,
) -> tuple[SendState | None, StoredMessage, bool]:
    """``send`` in ``tx``: the send's read, its message stored, and what it
    leaves for the thread's next send (``ThreadTx.sent``), as in the
    server. What it read, the message, and whether ``reader``'s receipt moved."""
    found = await tx.threads.send_state(
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
    if found is not None:
        tx.threads.sent(thread, found.read_seqs, reader if read else None, message.seq)
    return found, message, read
