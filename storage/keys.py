"""Signed device lists, stored as their owners published them; sender keys,
stored as signed with the key sealed to each device they were sent to."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.batches import rows_of_each
from storage.db import Database, insert_new
from storage.hot import Hot, unnested
from storage.schema import device_lists, devices, sender_key_wraps, sender_keys

__all__ = ["KeyTx", "Keys", "SenderKeyRef"]


@dataclass(frozen=True, slots=True)
class SenderKeyRef:
    """Which sender key: the one ``device`` distributed in ``thread`` as ``key_id``."""

    thread: int
    device: int
    key_id: bytes


def _key_row(ref: SenderKeyRef) -> ColumnElement[bool]:
    c = sender_keys.c
    return and_(c.thread_id == ref.thread, c.device_id == ref.device, c.key_id == ref.key_id)


def _wrap_rows(ref: SenderKeyRef) -> ColumnElement[bool]:
    c = sender_key_wraps.c
    return and_(c.thread_id == ref.thread, c.sender_device_id == ref.device, c.key_id == ref.key_id)


def _lists(*numbered: ColumnElement[Any]) -> Select[Any]:
    return select(*numbered, device_lists.c.user_id, device_lists.c.signed)


# The list of a user, a read of its own (each device list is consistent
# alone); on PostgreSQL those of many users in one statement: a send's
# members whose lists the node does not know yet, without BEGIN and COMMIT
# around it (on PostgreSQL they were two more round trips and a tenth of
# the loop while 9,900 new devices sent: ``benchmarks/README.md``, issue 22,
# twenty-ninth session).
_LIST = Hot(_lists().where(device_lists.c.user_id == bindparam("user_id")))
_ASKED_USERS = unnested({"user_id": BigInteger()})
_LISTS = Hot(_lists(_ASKED_USERS.c.n).where(device_lists.c.user_id == _ASKED_USERS.c.user_id))


class Keys:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def lists(self, user_ids: Iterable[int]) -> dict[int, bytes]:
        """The newest signed device list of each user who published one."""
        asked = [{"user_id": int(user_id)} for user_id in user_ids]
        async with self.db.read_one() as conn:
            found = await rows_of_each(conn, _LIST, _LISTS, asked)
        return {user_id: signed for rows in found for user_id, signed in rows}

    async def device_owners(self, device_ids: Iterable[int]) -> dict[int, int]:
        """Which user each of ``device_ids`` belongs to (unknown ids are left out)."""
        query = select(devices.c.id, devices.c.user_id).where(devices.c.id.in_(list(device_ids)))
        async with self.db.read() as conn:
            return dict((await conn.execute(query)).all())

    async def sender_key(self, ref: SenderKeyRef, reader: int) -> tuple[bytes, bytes] | None:
        """The signed sender key and the key sealed to device ``reader``, if
        it was distributed to that device."""
        query = (
            select(sender_keys.c.signed, sender_key_wraps.c.wrapped)
            .join(
                sender_key_wraps,
                (sender_key_wraps.c.thread_id == sender_keys.c.thread_id)
                & (sender_key_wraps.c.sender_device_id == sender_keys.c.device_id)
                & (sender_key_wraps.c.key_id == sender_keys.c.key_id),
            )
            .where(_key_row(ref), sender_key_wraps.c.device_id == reader)
        )
        async with self.db.read() as conn:
            found = (await conn.execute(query)).first()
        return None if found is None else (found[0], found[1])

    async def sender_key_devices(self, ref: SenderKeyRef) -> frozenset[int] | None:
        """The devices the sender key was distributed to; None if there is no such key."""
        query = select(sender_key_wraps.c.device_id).where(_wrap_rows(ref))
        async with self.db.read() as conn:
            found = frozenset((await conn.execute(query)).scalars())
        return found or None


class KeyTx:
    """Keys inside one write transaction (``WriteTx.keys``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def replace(self, user_id: int, version: int, signed: bytes, now: int) -> bool:
        """Store ``signed`` as the user's list if ``version`` is newer than the
        stored one; False (nothing written) otherwise."""
        values = {"version": version, "signed": signed, "updated_at": now}
        updated = await self.conn.execute(
            update(device_lists)
            .where(device_lists.c.user_id == user_id, device_lists.c.version < version)
            .values(values)
        )
        if updated.rowcount:
            return True
        exists = await self.conn.scalar(
            select(device_lists.c.version).where(device_lists.c.user_id == user_id)
        )
        if exists is not None:
            return False
        await self.conn.execute(insert(device_lists).values(user_id=user_id, **values))
        return True

    async def distribute(
        self,
        ref: SenderKeyRef,
        user_id: int,
        signed: bytes,
        wrapped: Sequence[tuple[int, bytes]],
        now: int,
    ) -> bool:
        """Store a sender key and its wrapped copies (device, sealed key).
        False, writing nothing, when this device stored this key id before,
        even from another node at the same moment (the caller tells a retry
        from a clash by comparing ``stored_key``)."""
        if not await insert_new(
            self.conn,
            sender_keys,
            thread_id=ref.thread,
            device_id=ref.device,
            key_id=ref.key_id,
            user_id=user_id,
            signed=signed,
            created_at=now,
        ):
            return False
        await self.conn.execute(
            insert(sender_key_wraps),
            [
                {
                    "thread_id": ref.thread,
                    "sender_device_id": ref.device,
                    "key_id": ref.key_id,
                    "device_id": device,
                    "wrapped": sealed,
                }
                for device, sealed in wrapped
            ],
        )
        return True

    async def stored_key(self, ref: SenderKeyRef) -> bytes | None:
        """The signed sender key stored under ``ref``, if any."""
        found = await self.conn.scalar(select(sender_keys.c.signed).where(_key_row(ref)))
        return None if found is None else bytes(found)
