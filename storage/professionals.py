"""The directory of health professionals (RPPS) as last imported
(``carehub admin import-rpps``): who an admin verifies a practitioner's
account against, and the profession patients read beside the name of a
practitioner verified with their number."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import islice

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.accounts import contains
from storage.db import Database, upsert_into
from storage.schema import health_professionals, users

__all__ = ["Professional", "Professionals"]

BATCH = 2_000  # rows per statement: one round trip each
_COLUMNS = (
    health_professionals.c.rpps,
    health_professionals.c.last_name,
    health_professionals.c.first_name,
    health_professionals.c.profession,
    health_professionals.c.specialty,
)


@dataclass(frozen=True, slots=True)
class Professional:
    rpps: str
    last_name: str
    first_name: str
    profession: str
    specialty: str = ""

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Professionals:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, found: Iterable[Professional], now: int) -> int:
        """Add or update each professional of ``found``, ``BATCH`` at a time,
        each batch its own short transaction (a live server's writer waits
        for one batch, not for the whole file); how many were read."""
        read = 0
        for chunk in _chunks(found, BATCH):
            latest = {professional.rpps: professional for professional in chunk}  # once each
            async with self.db.write() as conn:
                await _upsert(conn, list(latest.values()), now)
            read += len(chunk)
        return read

    async def stale(self, now: int) -> int:
        """How many professionals the import at ``now`` did not list."""
        older = health_professionals.c.imported_at < now
        async with self.db.read() as conn:
            return int(await conn.scalar(select(func.count()).where(older)) or 0)

    async def prune(self, now: int) -> int:
        """Remove those the import at ``now`` did not list (an account
        verified with one keeps its number); how many."""
        older = health_professionals.c.imported_at < now
        async with self.db.write() as conn:
            return (await conn.execute(delete(health_professionals).where(older))).rowcount

    async def get(self, rpps: str) -> Professional | None:
        query = select(*_COLUMNS).where(health_professionals.c.rpps == rpps)
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else Professional(*row)

    async def of_accounts(self, user_ids: Iterable[int]) -> dict[int, Professional]:
        """The directory's entry each of ``user_ids`` was verified with, by
        account, in one query: an account verified without a number, or
        with one the last import no longer lists, has none."""
        wanted = list(user_ids)
        if not wanted:
            return {}
        query = (
            select(users.c.id, *_COLUMNS)
            .join(health_professionals, health_professionals.c.rpps == users.c.rpps)
            .where(users.c.id.in_(wanted))
        )
        async with self.db.read() as conn:
            return {row[0]: Professional(*row[1:]) for row in await conn.execute(query)}

    async def search(self, text: str, limit: int) -> list[tuple[Professional, int | None]]:
        """Professionals whose number starts with ``text`` or whose name
        contains it, each with the account verified with them, if any."""
        columns = health_professionals.c
        query = (
            select(*_COLUMNS, users.c.id)
            .outerjoin(users, users.c.rpps == columns.rpps)
            .where(
                or_(
                    columns.rpps.startswith(text, autoescape=True),
                    contains(columns.last_name, text),
                    contains(columns.first_name, text),
                )
            )
            .order_by(columns.last_name, columns.first_name, columns.rpps)
            .limit(limit)
        )
        async with self.db.read() as conn:
            return [(Professional(*row[:5]), row[5]) for row in await conn.execute(query)]


def _chunks(found: Iterable[Professional], size: int) -> Iterator[tuple[Professional, ...]]:
    rest = iter(found)
    while chunk := tuple(islice(rest, size)):
        yield chunk


async def _upsert(conn: AsyncConnection, chunk: list[Professional], now: int) -> None:
    statement = upsert_into(conn, health_professionals)
    changed = {column.key: statement.excluded[column.key] for column in _COLUMNS[1:]}
    statement = statement.on_conflict_do_update(
        index_elements=["rpps"], set_={**changed, "imported_at": statement.excluded.imported_at}
    )
    await conn.execute(statement, [asdict(p) | {"imported_at": now} for p in chunk])
