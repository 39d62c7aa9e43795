"""The account migrations (0019 to 0022) on a database whose rows point at
users: up, down and up again, nothing lost. On SQLite a migration that
rebuilt ``users`` would be refused by the foreign keys pointing at it."""

from __future__ import annotations

from alembic import command
from sqlalchemy import func, select

from storage import Store
from storage.db import alembic_config
from storage.schema import participants, users
from tests.support.rows import people, thread_of

BEFORE_ACCOUNTS = "0018"


async def test_the_account_migrations_go_down_and_up_with_rows_pointing_at_users(
    database_factory,
) -> None:
    store = Store(database_factory())
    try:
        await store.db.migrate(BEFORE_ACCOUNTS)
        patient, doctor = await people(store)
        await thread_of(store, patient, doctor)  # participants, devices: rows that point at users
        await store.db.migrate()
        async with store.db.write() as conn:
            await conn.run_sync(lambda c: command.downgrade(alembic_config(c), BEFORE_ACCOUNTS))
        await store.db.migrate()
        async with store.db.read() as conn:
            assert await conn.scalar(select(func.count()).select_from(users)) == 2
            assert await conn.scalar(select(func.count()).select_from(participants)) == 2
        assert (await store.accounts.credentials("pat")).totp_step == 0  # the new columns are back
    finally:
        await store.close()
