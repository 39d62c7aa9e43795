"""The carehub command: migrate, user, schema."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from clients import login
from clients.errors import CallError
from protocol.errors import ErrorCode
from protocol.practice import PractitionerParams
from protocol.schema import json_schema
from storage import Store
from storage.schema import Base
from tests.support.server import PASSWORD, RunningServer


def carehub(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_migrate_creates_the_schema_and_is_idempotent(database_factory) -> None:
    db = database_factory()
    for _ in range(2):
        result = carehub("migrate", "--db", db)
        assert result.returncode == 0, result.stderr
    store = Store(db)
    try:
        assert await store.events.head() == 0
    finally:
        await store.close()


async def test_the_migrations_build_exactly_the_models(database_factory) -> None:
    """Every table, column and index of storage.schema comes from a migration."""
    store = Store(database_factory())
    try:
        await store.db.migrate()
        async with store.db.read() as conn:
            differences = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await store.close()
    assert differences == []


async def test_admin_creates_any_role_and_it_can_log_in(server: RunningServer) -> None:
    command = ["user", "assistant-cli", "--name", "Léa", "--role", "assistant"]
    command += ["--db", server.db, "--password-stdin"]
    result = carehub(*command, stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["role"] == "assistant"
    credentials = await login(server.base_url, "assistant-cli", PASSWORD)
    assert (credentials.user_id, credentials.role) == (created["id"], "assistant")
    again = carehub(*command, stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "taken" in again.stderr


async def test_admin_verify_reaches_the_running_server(server: RunningServer) -> None:
    doctor = await server.user("practitioner", verified=False)
    patient = await server.user("patient")
    profile = PractitionerParams(doctor.user_id)
    async with server.client(patient) as client:
        with pytest.raises(CallError) as raised:
            await client.call("practitioners.get", profile)
        assert raised.value.code == ErrorCode.NOT_FOUND
        result = carehub("admin", "verify", server.usernames[doctor.user_id], "--db", server.db)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["verified_at"] > 0
        assert (await client.call("practitioners.get", profile)).id == doctor.user_id
    for username in ("nobody", server.usernames[patient.user_id]):
        refused = carehub("admin", "verify", username, "--db", server.db)
        assert refused.returncode == 1 and "no practitioner" in refused.stderr


def test_schema_command_prints_the_protocol_schema() -> None:
    result = carehub("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads(json.dumps(json_schema()))


def test_bad_setting_is_named() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "server", "migrate"],
        env={"CAREHUB_PORT": "eighty", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "CAREHUB_PORT" in result.stderr
