"""Fixtures: real servers over SQLite and over a throwaway PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import RunningServer, start_server

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI: CI must run every backend."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    from tests.support.postgres import PostgresServer, find_bindir

    if find_bindir() is None:
        unavailable("PostgreSQL server binaries not found (apt-get install postgresql)")
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def shared_redis() -> Iterator[Any]:
    from tests.support.redis import RedisServer, find_redis

    if find_redis() is None:
        unavailable("redis-server not found (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def redis_server(shared_redis: Any) -> Any:
    """The session's redis-server, emptied: user ids repeat across test databases."""
    return shared_redis.flush()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_factory(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
):
    """Makes URLs of fresh, empty databases on the session's backend."""

    def make() -> str:
        if backend == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'carehub.db'}"
        from tests.support.postgres import create_database

        return create_database(request.getfixturevalue("postgres"), f"t_{uuid.uuid4().hex[:12]}")

    return make


@pytest.fixture
async def store(database_factory) -> AsyncIterator[Any]:
    """A fresh, migrated store on the session's backend."""
    from storage import Store

    store = Store(database_factory())
    await store.db.migrate()
    yield store
    await store.close()


@pytest.fixture(scope="session")
def server(database_factory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server shared by the tests that need no special settings."""
    running = start_server(database_factory(), tmp_path_factory.mktemp("server"))
    yield running
    running.stop()


@pytest.fixture
def make_server(database_factory, tmp_path: Path) -> Iterator:
    """Start servers with custom settings, stopped after the test."""
    started: list[RunningServer] = []

    def make(**settings: object) -> RunningServer:
        running = start_server(database_factory(), tmp_path, **settings)
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()
