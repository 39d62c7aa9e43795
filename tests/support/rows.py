"""Rows written straight into a test database, for storage-level tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from storage import Store
from storage.messages import NewMessage, StoredMessage
from storage.schema import devices, participants, threads, users
from storage.threads import SendAsk, SendState
from storage.tx import WriteTx, write_tx

__all__ = ["new_message", "people", "send", "send_in", "thread_of"]


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


async def send(store: Store, thread: int, device: int | None, sender: int, **options: Any) -> int:
    """A message (``new_message``) stored as a send stores it (``send_in``),
    in a transaction of its own; its seq."""
    async with write_tx(store.db) as tx:
        _, message = await send_in(tx, new_message(thread, device, sender, **options))
    return message.seq


async def send_in(tx: WriteTx, new: NewMessage) -> tuple[SendState | None, StoredMessage]:
    """``new`` stored in ``tx`` after the send's read, as in the server.
    What it read, and the message."""
    ask = SendAsk(
        new.thread_id,
        new.sender_device_id or 0,
        new.client_msg_id,
        new.sender_id,
        new.counted_for,
        new.now,
    )
    found = await tx.threads.send_state(ask)
    return found, await tx.messages.append(new)


def new_message(
    thread: int,
    device: int | None,
    sender: int,
    *,
    at: int,
    client_msg_id: str,
    thread_reply_allowed: bool | None = None,
    reader: int | None = None,
    counted_for: int | None = None,
    open_only: bool = False,
) -> NewMessage:
    """A text message to store (None for ``device``: a notice the server writes)."""
    return NewMessage(
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
        open_only=open_only,
    )
