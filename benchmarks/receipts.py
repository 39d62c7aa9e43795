"""``python -m benchmarks.receipts``: what a burst of messages to one device
costs in receipts, acknowledged as the web app acknowledges them.

A practitioner sends ``--messages`` messages at once to a patient whose
device acknowledges each as it arrives (``receipts.delivered``, its answer
not awaited: ``clients/web``'s ``acknowledge``), ``--bursts`` times. For
each burst: the server's commits from the first send until every receipt
is answered (``/healthz``), and the time from the last send's answer until
the practitioner hears that the last message was delivered (its tick).
One carehub server on SQLite, its rate limits raised as in the other
scenarios (the limiter is not what is measured), in a temporary
directory; to measure other code, run it with that code first on the path
(``PYTHONPATH=<worktree>``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.targets import UNLIMITED
from clients.e2e import Secure
from protocol.methods import ReceiptParams, ThreadsOpenParams
from protocol.model import ThreadKind
from tests.support.server import RunningServer, start_server

__all__ = ["main"]


async def _burst(
    server: RunningServer, doctor: Secure, patient: Secure, thread: int, n: int
) -> tuple[int, float]:
    """One burst: the commits it cost, and the seconds until the last tick."""
    before = await server.healthz("commits")
    sent = await asyncio.gather(*(doctor.send(thread, f"Message {k}") for k in range(n)))
    answered = time.perf_counter()
    last = max(s.thread_seq for s in sent)
    receipts = []
    for _ in range(n):
        arrived = (await patient.next_event("message.new")).data
        call = patient.call("receipts.delivered", ReceiptParams(thread, arrived.thread_seq))
        receipts.append(asyncio.ensure_future(call))
    while (await doctor.next_event("receipt")).data.delivered_seq < last:
        pass
    ticked = time.perf_counter() - answered
    await asyncio.gather(*receipts)
    return await server.healthz("commits") - before, ticked


async def _run(workdir: Path, messages: int, bursts: int) -> list[tuple[int, float]]:
    limits = {name.removeprefix("CAREHUB_").lower(): value for name, value in UNLIMITED.items()}
    server = start_server(f"sqlite+aiosqlite:///{workdir / 'carehub.db'}", workdir, **limits)
    try:
        doctor_creds = await server.user("practitioner")
        patient_creds = await server.user("patient")
        await server.add_patient(doctor_creds, patient_creds)
        async with server.secure(doctor_creds) as doctor, server.secure(patient_creds) as patient:
            opened = ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [patient_creds.user_id])
            thread = (await doctor.call("threads.open", opened)).id
            await patient.next_event("message.new")  # the thread's opening notice
            return [await _burst(server, doctor, patient, thread, messages) for _ in range(bursts)]
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.receipts", description=__doc__)
    parser.add_argument("--messages", type=int, default=10, help="messages in a burst")
    parser.add_argument("--bursts", type=int, default=20)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="carehub-bench-") as work:
        runs = asyncio.run(_run(Path(work), args.messages, args.bursts))
    commits = [c for c, _ in runs]
    ticks = sorted(1000 * t for _, t in runs)
    print(
        f"{args.bursts} bursts of {args.messages}: commits a burst median"
        f" {statistics.median(commits):g} (min {min(commits)}, max {max(commits)});"
        f" the last tick after the last answer: median {statistics.median(ticks):.1f} ms,"
        f" max {ticks[-1]:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
