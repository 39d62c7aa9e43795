"""carehub also runs under daphne (no ASGI lifespan there: it starts on the
first request)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from protocol.methods import ThreadsOpenParams
from protocol.model import ThreadKind
from tests.support.server import RunningServer, free_port


@pytest.fixture
def daphne_server(database_factory, tmp_path: Path) -> Iterator[RunningServer]:
    daphne = shutil.which("daphne", path=os.path.dirname(sys.executable))
    if daphne is None:
        pytest.skip("daphne is not installed (pip install carehub[daphne])")
    port, db = free_port(), database_factory()
    log = tmp_path / "daphne.log"
    env = {**os.environ, "CAREHUB_DB": db, "CAREHUB_BLOB_DIR": str(tmp_path / "blobs")}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [daphne, "-b", "127.0.0.1", "-p", str(port), "server.asgi:app"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = RunningServer(db, port, process, log, env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                break
        time.sleep(0.05)  # polling readiness: a process start has no event to await
    else:
        server.stop()
        pytest.fail(f"daphne did not start:\n{server.log_tail()}")
    yield server
    server.stop()


async def test_conversation_under_daphne(daphne_server: RunningServer) -> None:
    doctor_creds = await daphne_server.user("practitioner")
    patient_creds = await daphne_server.user("patient")
    await daphne_server.add_patient(doctor_creds, patient_creds)
    async with (
        daphne_server.secure(doctor_creds) as doctor,
        daphne_server.secure(patient_creds) as patient,
    ):
        thread = await patient.call(
            "threads.open",
            ThreadsOpenParams(
                ThreadKind.PATIENT_PRACTITIONER, [doctor_creds.user_id], "after_visit"
            ),
        )
        assert (await doctor.next_event("message.new")).data.kind == "notice"
        sent = await patient.send(thread.id, "under daphne")
        event = await doctor.next_event("message.new")
        assert event.data.id == sent.message_id
        assert (await doctor.open(event.data)).body.text == "under daphne"
