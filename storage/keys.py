"""Signed device lists, stored as their owners published them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.schema import device_lists, devices

__all__ = ["Keys"]


class Keys:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def lists(self, user_ids: Iterable[int]) -> dict[int, bytes]:
        """The newest signed device list of each user who published one."""
        query = select(device_lists.c.user_id, device_lists.c.signed).where(
            device_lists.c.user_id.in_(list(user_ids))
        )
        async with self.db.read() as conn:
            return dict((await conn.execute(query)).all())

    async def device_owners(self, device_ids: Iterable[int]) -> dict[int, int]:
        """Which user each of ``device_ids`` belongs to (unknown ids are left out)."""
        query = select(devices.c.id, devices.c.user_id).where(devices.c.id.in_(list(device_ids)))
        async with self.db.read() as conn:
            return dict((await conn.execute(query)).all())


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
