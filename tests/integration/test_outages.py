"""Failures with real processes: PostgreSQL stopped and started under a
node. Sends during the outage are refused with ``unavailable``, never
acknowledged without being stored; afterwards everything acknowledged
reaches the reader exactly once, in order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from clients import CallError
from protocol.errors import CloseCode, ErrorCode
from tests.conftest import unavailable
from tests.support.postgres import PostgresServer, find_bindir
from tests.support.server import RunningServer, start_server
from tests.support.wire import close_code, greeted, hello, pack, raw


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own, since the test stops it."""
    if find_bindir() is None:
        unavailable("PostgreSQL server binaries not found (apt-get install postgresql)")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def node(own_postgres: PostgresServer, tmp_path: Path) -> Iterator[RunningServer]:
    running = start_server(own_postgres.url, tmp_path)
    yield running
    running.stop()


async def test_sends_while_postgresql_is_down_are_refused_not_lost(
    own_postgres: PostgresServer, node: RunningServer
) -> None:
    doctor, patient, thread = await node.patient_thread()
    acknowledged, refused = [], 0
    async with node.secure(patient) as ana, node.secure(doctor) as desk:
        for text in ("before 1", "before 2"):
            acknowledged.append((await ana.send(thread, text)).message_id)
        own_postgres.stop_server()
        for text in ("during 1", "during 2", "during 3"):
            with pytest.raises(CallError) as down:
                await ana.send(thread, text)
            assert down.value.code == ErrorCode.UNAVAILABLE
            refused += 1
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{node.base_url}/healthz")
        assert (health.status_code, health.json()["store"]) == (503, "down")
        own_postgres.start_server()
        for text in ("after 1", "after 2"):
            acknowledged.append((await ana.send(thread, text)).message_id)
        received = []
        while len(received) < len(acknowledged):
            event = await desk.next_event("message.new")
            if event.data.sender == patient.user_id:
                received.append(event.data.id)
    print(f"sent 7, acknowledged {len(acknowledged)}, refused {refused}, received {len(received)}")
    assert received == acknowledged  # each once, in order, nothing refused among them
    logged = node.log.read_text()
    assert logged.count("messages.send refused: ") == refused  # one line each
    assert "Traceback" not in logged


async def test_a_hello_while_postgresql_is_down_is_told_to_resume_later(
    own_postgres: PostgresServer, node: RunningServer
) -> None:
    patient = await node.user()
    own_postgres.stop_server()
    try:
        async with raw(node) as ws:
            await ws.send(pack(hello(patient)))
            assert await close_code(ws) == CloseCode.SERVER_SHUTDOWN
    finally:
        own_postgres.start_server()
    async with greeted(node, patient):  # and once it is back, the same hello is welcome
        pass
    logged = node.log.read_text()
    assert logged.count("hello refused: store unavailable") == 1
    assert "Traceback" not in logged
