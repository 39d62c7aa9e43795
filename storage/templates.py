"""Reply templates, a practitioner's own or their practice's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, insert, or_, select, update

from storage.db import Database
from storage.schema import templates

__all__ = ["StoredTemplate", "Templates"]


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    id: int
    owner_id: int | None
    practice_id: int | None
    template: bytes  # protocol.practice.Template, MessagePack


_COLUMNS = (templates.c.id, templates.c.owner_id, templates.c.practice_id, templates.c.template)


class Templates:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def visible(
        self, owner_ids: Iterable[int], practice_ids: Iterable[int]
    ) -> list[StoredTemplate]:
        """The templates of ``owner_ids`` and of ``practice_ids``, oldest first."""
        query = (
            select(*_COLUMNS)
            .where(
                or_(
                    templates.c.owner_id.in_(list(owner_ids)),
                    templates.c.practice_id.in_(list(practice_ids)),
                )
            )
            .order_by(templates.c.id)
        )
        async with self.db.read() as conn:
            return [StoredTemplate(*row) for row in await conn.execute(query)]

    async def get(self, template_id: int) -> StoredTemplate | None:
        async with self.db.read() as conn:
            row = (
                await conn.execute(select(*_COLUMNS).where(templates.c.id == template_id))
            ).first()
        return None if row is None else StoredTemplate(*row)

    async def add(
        self, owner_id: int | None, practice_id: int | None, template: bytes, now: int
    ) -> int:
        async with self.db.write() as conn:
            template_id = await conn.scalar(
                insert(templates)
                .values(
                    owner_id=owner_id, practice_id=practice_id, template=template, updated_at=now
                )
                .returning(templates.c.id)
            )
        assert template_id is not None
        return int(template_id)

    async def replace(self, template_id: int, template: bytes, now: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                update(templates)
                .where(templates.c.id == template_id)
                .values(template=template, updated_at=now)
            )

    async def delete(self, template_id: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(delete(templates).where(templates.c.id == template_id))
