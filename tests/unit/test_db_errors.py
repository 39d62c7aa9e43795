"""Only the database being out of reach is ``Unavailable``: a bad write, or an
error of the caller's own inside a transaction, stays what it is (a bad
time zone is not a storage outage)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import Database, Unavailable
from tests.support.server import free_port


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'e.db'}")
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE notes (body TEXT PRIMARY KEY)"))
    yield database
    await database.close()


async def test_a_database_nobody_answers_is_unavailable() -> None:
    database = Database(f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
    try:
        with pytest.raises(Unavailable):
            async with database.read() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await database.close()


async def test_a_bad_write_is_not_an_outage(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO notes VALUES ('x'), ('x')"))


async def test_the_callers_own_os_error_is_not_an_outage(db: Database) -> None:
    with pytest.raises(IsADirectoryError):
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO notes VALUES ('y')"))
            raise IsADirectoryError("Europe")
    async with db.read() as conn:  # and the transaction rolled back
        assert (await conn.scalar(text("SELECT count(*) FROM notes"))) == 0
