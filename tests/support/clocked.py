"""A real server on a real socket, run in the test's own process with a
clock the test moves: for what depends on time (holds expiring, no-shows,
reminders coming due, dates on both sides of a daylight-saving change)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn

from server.app import create_app
from server.clock import Clock
from server.settings import Settings
from tests.support.server import RunningServer, free_port

__all__ = ["RecordingGateway", "TravelClock", "clocked_server"]


class TravelClock(Clock):
    """Real time, shifted: it starts at ``start`` and moves on with the
    wall clock, and ``travel`` jumps it forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self.offset = 0 if start is None else int(start.timestamp() * 1000) - super().ms()

    def ms(self) -> int:
        return super().ms() + self.offset

    def travel(self, ms: int) -> None:
        self.offset += ms


class RecordingGateway:
    """A notification gateway that remembers what it was handed."""

    def __init__(self) -> None:
        self.delivered: list[tuple[int, int, str, dict[str, Any]]] = []
        self.arrived = asyncio.Event()

    async def deliver(
        self, notification_id: int, user_id: int, kind: str, body: dict[str, Any]
    ) -> None:
        self.delivered.append((notification_id, user_id, kind, body))
        self.arrived.set()


@contextlib.asynccontextmanager
async def clocked_server(
    db: str, workdir: Path, clock: TravelClock, gateway: Any = None, **settings: Any
) -> AsyncIterator[RunningServer]:
    """Serve ``create_app`` with ``clock`` on a free loopback port until the
    block ends (the ``carehub`` CLI the helpers call reaches the same db)."""
    port = free_port()
    chosen = Settings.load(
        {"db": db, "port": port, "blob_dir": str(workdir / f"blobs-{port}"), **settings}, env={}
    )
    app = create_app(chosen, clock=clock, gateway=gateway)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws_ping_interval=None
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers a flag, not an event, for readiness
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    env = {**os.environ, "CAREHUB_BLOB_DIR": str(workdir / f"blobs-{port}")}
    try:
        log = workdir / "in-process.log"
        yield RunningServer(db, port, None, log, env, context=app.state.ctx)
    finally:
        server.should_exit = True
        await serving
