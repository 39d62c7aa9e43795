"""``python -m benchmarks.booking``: the booking calls of one busy practitioner.

Starts a carehub server pinned to core 0 (SQLite or PostgreSQL), gives a
practitioner a month of opening hours (Monday to Friday, 08:00-19:00, 15-minute
consultations: about 960 slots), then, from core 1:

- holds: the practice books ``--fill`` of the month's slots for patients
  (``booking.hold`` with ``patient``) from ``--clients`` sockets, each
  making one call at a time, and reports holds per second and latency;
- slots: ``agenda.slots`` for the whole month, ``--calls`` times, the same
  way, against the now busy agenda.

Writes a JSON result to ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import itertools
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.report import machine
from benchmarks.stats import summarize
from benchmarks.targets import UNLIMITED, _spawn, _wait_ready
from clients import Client, Credentials, login, register
from protocol.booking import AgendaSettings, HoldParams, OpeningHours, SlotsParams, VisitReason
from tests.support.server import PASSWORD, free_port, terminate

RESULTS = Path(__file__).resolve().parent / "results"
DAY = 86_400_000
MONTH = 30 * DAY
AGENDA = AgendaSettings(
    time_zone="Europe/Paris",
    reasons=[VisitReason("consult", "Consultation", 15)],
    hours=[OpeningHours(day, "08:00", "19:00", ["consult"]) for day in range(5)],
    horizon_days=60,
    min_notice_minutes=0,
)


async def _user(base: str, role: str) -> tuple[Credentials, str]:
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    await register(base, name, PASSWORD, name, role)
    return await login(base, name, PASSWORD, device_name="bench"), name


async def _verify(db: str, username: str) -> None:
    command = [sys.executable, "-m", "server", "admin", "verify", username, "--db", db]
    done = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL)
    assert await done.wait() == 0, "carehub admin verify failed"


async def _timed(
    clients: list[Client], calls: list[tuple[str, Any]]
) -> tuple[list[int], float, int]:
    """Run ``calls`` with each client making one call at a time (a closed
    loop); their latencies (µs), the wall time, and the failures."""
    latencies: list[int] = []
    failures = 0
    pending = iter(calls)

    async def worker(client: Client) -> None:
        nonlocal failures
        for method, params in pending:
            began = time.perf_counter()
            try:
                await client.call(method, params)
            except Exception:
                failures += 1
                continue
            latencies.append(int((time.perf_counter() - began) * 1_000_000))

    began = time.perf_counter()
    await asyncio.gather(*(worker(client) for client in clients))
    return latencies, time.perf_counter() - began, failures


async def _bench(db: str, port: int, args: argparse.Namespace) -> dict[str, Any]:
    base, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws"
    doctor, username = await _user(base, "practitioner")
    await _verify(db, username)
    patients = [(await _user(base, "patient"))[0] for _ in range(20)]
    clients = [Client(ws, doctor) for _ in range(args.clients)]
    for client in clients:
        await client.connect()
    try:
        await clients[0].call("agenda.set", AGENDA)
        start = (int(time.time() * 1000) // DAY + 1) * DAY
        month = SlotsParams(doctor.user_id, "consult", start, start + MONTH)
        slots = (await clients[0].call("agenda.slots", month)).slots
        chosen = slots[:: max(1, round(1 / args.fill))][: int(len(slots) * args.fill)]
        holds = [
            ("booking.hold", HoldParams(doctor.user_id, "consult", slot, patient=p.user_id))
            for slot, p in zip(chosen, itertools.cycle(patients), strict=False)
        ]
        hold_ms, hold_wall, hold_failed = await _timed(clients, holds)
        queries = [("agenda.slots", month)] * args.calls
        slot_ms, slot_wall, slot_failed = await _timed(clients, queries)
        left = len((await clients[0].call("agenda.slots", month)).slots)
    finally:
        for client in clients:
            await client.close()
    return {
        "month_slots": len(slots),
        "held": len(hold_ms),
        "free_after": left,
        "holds": {
            "per_s": round(len(hold_ms) / hold_wall, 1),
            "failed": hold_failed,
            **summarize(hold_ms),
        },
        "slots": {
            "per_s": round(len(slot_ms) / slot_wall, 1),
            "failed": slot_failed,
            **summarize(slot_ms),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.booking", description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--clients", type=int, default=8, help="sockets calling at once")
    parser.add_argument("--fill", type=float, default=0.8, help="share of the month to book")
    parser.add_argument("--calls", type=int, default=200, help="agenda.slots calls")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carehub-bench-") as work:
        workdir = Path(work)
        cleanups = []
        if args.db == "sqlite":
            db = f"sqlite+aiosqlite:///{workdir / 'carehub.db'}"
        else:
            from tests.support.postgres import PostgresServer

            postgres = PostgresServer(durable=True).start()
            cleanups.append(postgres.stop)
            db = postgres.url
        port = free_port()
        command = [sys.executable, "-m", "server", "serve", "--db", db, "--port", str(port)]
        env = {**UNLIMITED, "CAREHUB_BLOB_DIR": str(workdir / "blobs")}
        process, log = _spawn([*command, "--log-level", "warning"], 0, workdir, env)
        try:
            _wait_ready(process, port, log, f"http://127.0.0.1:{port}/healthz")
            os.sched_setaffinity(0, {1})
            result = asyncio.run(_bench(db, port, args))
        finally:
            terminate(process)
            for cleanup in cleanups:
                cleanup()
    result = {
        "scenario": "booking",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.booking " + " ".join(sys.argv[1:]),
        "db": args.db,
        "machine": machine(0, 1),
        **result,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"booking-{args.db}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("month_slots", "held", "holds", "slots")}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
