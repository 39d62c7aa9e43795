"""Encrypted documents: who uploaded what, for which thread, how far."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, delete, func, insert, select, update

from storage.db import Database
from storage.schema import files, users

__all__ = ["FileRecord", "Files", "Usage"]


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    owner_id: int
    thread_id: int
    size: int
    hash: bytes
    received: int
    created_at: int
    finished_at: int | None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


_COLUMNS = (
    files.c.id,
    files.c.owner_id,
    files.c.thread_id,
    files.c.size,
    files.c.hash,
    files.c.received,
    files.c.created_at,
    files.c.finished_at,
)


@dataclass(frozen=True, slots=True)
class Usage:
    bytes: int  # counted against the quota: every upload, finished or not
    unfinished: int


def _usage(owner_id: int) -> Select[int, int]:
    return select(
        func.coalesce(func.sum(files.c.size), 0),
        func.count().filter(files.c.finished_at.is_(None)),
    ).where(files.c.owner_id == owner_id)


class Files:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, record: FileRecord, *, quota_bytes: int, max_unfinished: int
    ) -> Usage | None:
        """Store a new upload, unless its owner's uploads (finished or not)
        would pass ``quota_bytes`` or ``max_unfinished`` of them are
        unfinished: then their usage, and nothing is stored. The owner's
        account row is locked while counting (PostgreSQL; SQLite has one
        writer), so two uploads at once cannot both slip under a limit."""
        async with self.db.write() as conn:
            await conn.execute(
                select(users.c.id).where(users.c.id == record.owner_id).with_for_update()
            )
            row = (await conn.execute(_usage(record.owner_id))).one()
            usage = Usage(int(row[0]), int(row[1]))
            if usage.bytes + record.size > quota_bytes or usage.unfinished >= max_unfinished:
                return usage
            await conn.execute(
                insert(files).values(
                    {column.name: getattr(record, column.name) for column in _COLUMNS}
                )
            )
        return None

    async def get(self, file_id: str) -> FileRecord | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(*_COLUMNS).where(files.c.id == file_id))).first()
        return None if row is None else FileRecord(*row)

    async def unfinished(self, owner_id: int, thread_id: int, hash: bytes) -> FileRecord | None:
        """An upload of the same ciphertext by the same user to resume."""
        query = select(*_COLUMNS).where(
            files.c.owner_id == owner_id,
            files.c.thread_id == thread_id,
            files.c.hash == hash,
            files.c.finished_at.is_(None),
        )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else FileRecord(*row)

    async def advance(self, file_id: str, offset: int, received: int) -> bool:
        """Record bytes up to ``received``, if the upload was at ``offset``."""
        async with self.db.write() as conn:
            result = await conn.execute(
                update(files)
                .where(
                    files.c.id == file_id,
                    files.c.received == offset,
                    files.c.finished_at.is_(None),
                )
                .values(received=received)
            )
        return bool(result.rowcount)

    async def finish(self, file_id: str, now: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(files).where(files.c.id == file_id).values(finished_at=now))

    async def abandoned(self, created_before: int) -> list[str]:
        """Unfinished uploads started before ``created_before``."""
        query = select(files.c.id).where(
            files.c.finished_at.is_(None), files.c.created_at < created_before
        )
        async with self.db.read() as conn:
            return list((await conn.execute(query)).scalars())

    async def known(self, file_ids: list[str]) -> set[str]:
        async with self.db.read() as conn:
            found = await conn.execute(select(files.c.id).where(files.c.id.in_(file_ids)))
            return set(found.scalars())

    async def delete(self, file_ids: list[str]) -> None:
        async with self.db.write() as conn:
            await conn.execute(delete(files).where(files.c.id.in_(file_ids)))
