"""``python -m benchmarks push``: from a send to the push request at the push
service, for devices whose app is closed.

Starts a carehub server pinned to core 0 (SQLite, or PostgreSQL beside it)
whose only push service is a recorder on loopback (``push_recorder``), on
core 1 with the generator. ``--devices`` patients, one device each, a thread
each with one of ``--practitioners``; each device subscribes (Web Push, a
real P-256 key and auth secret: the server encrypts for real) and closes
its socket. Then, for each rate of ``--rates``, the practitioners send
``--messages`` messages at that steady rate (open loop: message *k* is due
at ``start + k / rate``), to the threads in turn, so with the default one
message per thread each push answers one message.

For every message: the time from the send's acknowledgement to the arrival
of the first push for its thread at the patient's endpoint whose count
includes it (a push says the thread's unread count; one push may answer
several messages of a thread). Every push is decrypted, with the device's
private key, and checked: its thread, its count, and its outbox ``id``
(seen once: a second arrival of an id is a repeat).

Writes a JSON result to ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import shlex
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import psutil

from benchmarks.plan import Plan
from benchmarks.push_recorder import BrowserKeys, PushRecorder, recording
from benchmarks.report import machine
from benchmarks.seed import Seeded, seed
from benchmarks.stats import summarize
from benchmarks.targets import UNLIMITED, _spawn, _wait_ready, pin_tree, process_cpu_seconds
from clients import CarehubError, Client, Credentials
from protocol.e2e import ENVELOPE_VERSION, Envelope, Header, Recipient
from protocol.push import PushSubscribeParams
from tests.support.server import free_port, terminate

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
_ENCODE = msgspec.msgpack.Encoder().encode
_WRAPPED_KEY = bytes(80)  # the server checks an envelope's shape and recipients, not its crypto
_SUBSCRIBING_AT_ONCE = 50


@dataclass(frozen=True)
class Population:
    """Who is in the run: the seeded accounts, and each patient's thread."""

    seeded: Seeded
    practitioners: int
    devices: int

    def patient(self, room: int) -> int:
        return self.practitioners + room

    def practitioner(self, room: int) -> int:
        return room % self.practitioners

    def device(self, user: int) -> int:
        return self.seeded.device_ids[user][0]

    def credentials(self, user: int, role: str) -> Credentials:
        seeded = self.seeded
        expires = 2**62
        return Credentials(
            seeded.tokens[user][0], seeded.user_ids[user], self.device(user), role, expires
        )


@dataclass
class Sent:
    """One message: its thread's patient device, which message of the
    thread it is (the count a push that includes it says at least), when
    it was due and when its send was acknowledged."""

    device: int
    thread: int
    nth: int
    due_ns: int
    acked_ns: int = 0


@dataclass
class Tally:
    """The pushes, decrypted as they arrive (after their arrival time is noted)."""

    keys: dict[int, BrowserKeys]  # device -> its subscription's keys
    threads: dict[int, int]  # device -> its thread
    opened: int = 0
    latest: dict[int, int] = field(default_factory=dict)  # device -> highest count pushed
    # device -> (arrival ns, count) of each push
    arrivals: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    ids: Counter[int] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)

    def take(self, recorder: PushRecorder) -> None:
        for arrival in recorder.arrivals[self.opened :]:
            self.opened += 1
            if arrival.device not in self.keys:
                self.wrong.append(f"a push to an endpoint nobody subscribed: {arrival.device}")
                continue
            said = json.loads(self.keys[arrival.device].open(arrival.body))
            if said.get("thread") != self.threads[arrival.device] or said.get("kind") != "message":
                self.wrong.append(f"device {arrival.device} was told {said}")
                continue
            self.ids[said["id"]] += 1
            count = said["count"]
            self.latest[arrival.device] = max(self.latest.get(arrival.device, 0), count)
            self.arrivals.setdefault(arrival.device, []).append((arrival.at_ns, count))

    def complete(self, wanted: dict[int, int]) -> bool:
        return all(self.latest.get(device, 0) >= n for device, n in wanted.items())


def _plan(devices: int, practitioners: int) -> Plan:
    roles = ["practitioner"] * practitioners + ["patient"] * devices
    rooms = [[room % practitioners, practitioners + room] for room in range(devices)]
    return Plan("push", roles, 1, rooms)


def _envelope(population: Population, room: int) -> tuple[str, bytes]:
    """A message's ``client_msg_id`` and envelope (real shape and size)."""
    sender = population.practitioner(room)
    recipients = sorted((sender, population.patient(room)), key=population.device)
    msg_id = uuid.uuid4().bytes
    header = Header(
        ENVELOPE_VERSION,
        population.seeded.thread_ids[room],
        msg_id,
        population.seeded.user_ids[sender],
        population.device(sender),
        time.time_ns() // 1_000_000,
        "text",
        None,
        [Recipient(population.device(user), _WRAPPED_KEY) for user in recipients],
        bytes(32),
        bytes(24),
    )
    return msg_id.hex(), _ENCODE(Envelope(_ENCODE(header), b"\0" * 256, bytes(64)))


async def _subscribe_all(
    population: Population, ws: str, recorder: PushRecorder
) -> dict[int, BrowserKeys]:
    """Every patient device subscribes, then closes its socket."""
    keys: dict[int, BrowserKeys] = {}
    gate = asyncio.Semaphore(_SUBSCRIBING_AT_ONCE)

    async def subscribe(room: int) -> None:
        user = population.patient(room)
        device = population.device(user)
        keys[device] = browser = BrowserKeys()
        params = PushSubscribeParams(recorder.endpoint(device), browser.p256dh, browser.auth_b64)
        async with gate, Client(ws, population.credentials(user, "patient"), reconnect=False) as c:
            await c.call("push.subscribe", params)

    await asyncio.gather(*(subscribe(room) for room in range(population.devices)))
    return keys


async def _send_at(
    rate: float, messages: int, population: Population, desks: list[Client], first: int
) -> tuple[list[Sent], Counter[str]]:
    """Send ``messages`` at ``rate``, message *k* to thread ``first + k``
    (modulo the threads); what was sent, and why sends failed."""
    sent: list[Sent] = []
    failures: Counter[str] = Counter()
    start = time.monotonic_ns() + 50_000_000

    async def one(k: int, item: Sent) -> None:
        room = (first + k) % population.devices
        desk = desks[population.practitioner(room)]
        msg_id, envelope = _envelope(population, room)
        try:
            await desk.send(item.thread, envelope, client_msg_id=msg_id)
        except CarehubError as exc:
            failures[str(exc)] += 1
            return
        item.acked_ns = time.monotonic_ns()

    tasks = []
    for k in range(messages):
        room = (first + k) % population.devices
        due = start + int(k * 1e9 / rate)
        await asyncio.sleep(max(0.0, (due - time.monotonic_ns()) / 1e9))
        device = population.device(population.patient(room))
        item = Sent(device, population.seeded.thread_ids[room], 0, due)
        sent.append(item)
        tasks.append(asyncio.create_task(one(k, item)))
    await asyncio.gather(*tasks)
    return sent, failures


async def _until_complete(
    recorder: PushRecorder, tally: Tally, wanted: dict[int, int], seconds: float
) -> bool:
    """Open pushes as they come until each device has its latest count."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                tally.take(recorder)
                if tally.complete(wanted):
                    return True
                await recorder.beyond(tally.opened)
    tally.take(recorder)
    return tally.complete(wanted)


def _latencies(sent: list[Sent], tally: Tally) -> tuple[list[int], int]:
    """Per acknowledged message, µs from its ack to the first push of its
    thread that counts it; and how many messages no push counted."""
    latencies, lost = [], 0
    for item in sent:
        if not item.acked_ns:
            continue
        reached = [ns for ns, count in tally.arrivals.get(item.device, []) if count >= item.nth]
        if reached:
            latencies.append((min(reached) - item.acked_ns) // 1000)
        else:
            lost += 1
    return latencies, lost


class CpuMeter:
    """Over a window, in % of one core: the server side's CPU (the server,
    its database), the generator's, and everything else's on the machine
    (anything much above zero means the run was disturbed)."""

    def __init__(self, roots: list[int]) -> None:
        self.server = [p for pid in roots for p in _tree(pid)]
        self.generator = psutil.Process()
        self.started = time.monotonic()
        self.before = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        server = sum(process_cpu_seconds(process) for process in self.server)
        mine = self.generator.cpu_times()
        machine = psutil.cpu_times()
        busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
        return server, mine.user + mine.system, busy

    def percent(self) -> dict[str, float]:
        wall = time.monotonic() - self.started
        after = self._sample()
        server, generator, busy = (b - a for a, b in zip(self.before, after, strict=True))
        return {
            "server": round(100 * server / wall, 1),
            "generator": round(100 * generator / wall, 1),
            "other": round(100 * (busy - server - generator) / wall, 1),
        }


def _tree(pid: int) -> Iterator[psutil.Process]:
    root = psutil.Process(pid)
    yield root
    yield from root.children(recursive=True)


@dataclass
class Run:
    """What the steps share: the people, the practitioners' sockets, the
    recorder, the pushes opened so far, and each device's messages so far."""

    args: argparse.Namespace
    population: Population
    desks: list[Client]
    recorder: PushRecorder
    tally: Tally
    server_pids: list[int]
    counts: dict[int, int] = field(default_factory=dict)  # device -> messages to its thread

    async def step(self, rate: float) -> dict[str, Any]:
        """One rate: send, wait for the pushes, then ``--settle-seconds``
        more for any repeat."""
        first_push = self.tally.opened
        meter = CpuMeter(self.server_pids)
        sent, failures = await _send_at(
            rate, self.args.messages, self.population, self.desks, sum(self.counts.values())
        )
        for item in sent:
            if item.acked_ns:
                self.counts[item.device] = item.nth = self.counts.get(item.device, 0) + 1
        complete = await _until_complete(
            self.recorder, self.tally, self.counts, self.args.drain_seconds
        )
        cpu = meter.percent()
        await asyncio.sleep(self.args.settle_seconds)  # a repeat would come after the last push
        self.tally.take(self.recorder)
        latencies, lost = _latencies(sent, self.tally)
        times = [a.at_ns for a in self.recorder.arrivals[first_push:]]
        spread = (max(times) - min(times)) / 1e9 if len(times) > 1 else 0.0
        return {
            "rate": rate,
            "sent": len(sent),
            "send_failures": dict(failures),
            "ack": summarize((i.acked_ns - i.due_ns) // 1000 for i in sent if i.acked_ns),
            "pushes": len(times),
            "pushes_per_s": round(len(times) / spread, 1) if spread else None,
            "complete": complete,
            "lost_messages": lost,
            "cpu_percent": cpu,
            "send_to_push": summarize(latencies),
        }


async def _bench(
    args: argparse.Namespace,
    recorder: PushRecorder,
    population: Population,
    port: int,
    server_pids: list[int],
) -> dict[str, Any]:
    ws = f"ws://127.0.0.1:{port}/ws"
    began = time.monotonic()
    keys = await _subscribe_all(population, ws, recorder)
    subscribe_s = time.monotonic() - began
    threads = {
        population.device(population.patient(room)): population.seeded.thread_ids[room]
        for room in range(population.devices)
    }
    desks = [
        Client(ws, population.credentials(user, "practitioner"))
        for user in range(population.practitioners)
    ]
    run = Run(args, population, desks, recorder, Tally(keys, threads), server_pids)
    for desk in desks:
        await desk.connect()
    try:
        steps = []
        for rate in args.rates:
            steps.append(step := await run.step(rate))
            _print_step(step)
    finally:
        for desk in desks:
            await desk.close()
    tally = run.tally
    repeated = sorted(i for i, n in tally.ids.items() if n > 1)
    return {
        "subscribe_seconds": round(subscribe_s, 2),
        "steps": steps,
        "pushes": sum(tally.ids.values()),
        "distinct_ids": len(tally.ids),
        "repeated_ids": repeated,
        "wrong": tally.wrong[:20],
        "exactly_once": not repeated
        and not tally.wrong
        and all(s["complete"] and not s["send_failures"] for s in steps),
    }


def _print_step(step: dict[str, Any]) -> None:
    latency = step["send_to_push"]
    print(
        f"{step['rate']:g} msgs/s: {step['sent']} sent, {step['pushes']} pushes"
        f" ({step['pushes_per_s']}/s), send ack -> push p50 {latency.get('p50_ms')} ms,"
        f" p95 {latency.get('p95_ms')}, p99 {latency.get('p99_ms')}, max {latency.get('max_ms')};"
        f" lost {step['lost_messages']}; CPU % {step['cpu_percent']}",
        flush=True,
    )


@contextlib.contextmanager
def _database(kind: str, workdir: Path, cpu: int | None) -> Iterator[tuple[str, list[int]]]:
    """The database's URL, and its processes (none for SQLite)."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / 'carehub.db'}", []
        return
    from tests.support.postgres import PostgresServer  # as the other benchmarks start it

    postgres = PostgresServer(durable=True).start()
    try:
        pid = int((postgres.data / "postmaster.pid").read_text().split()[0])
        pin_tree(pid, cpu)
        yield postgres.url, [pid]
    finally:
        postgres.stop()


async def _run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    server_cpu = None if args.no_pin else 0
    with _database(args.db, workdir, server_cpu) as (db, db_pids):
        plan = _plan(args.devices, args.practitioners)
        population = Population(await seed(db, plan), args.practitioners, args.devices)
        async with recording() as recorder:
            port = free_port()
            env = {
                **UNLIMITED,
                "CAREHUB_BLOB_DIR": str(workdir / "blobs"),
                "CAREHUB_PUSH_KEY_FILE": str(workdir / "vapid.pem"),
                "CAREHUB_PUSH_SERVICES": recorder.origin,
            }
            command = [sys.executable, "-m", "server", "serve", "--db", db, "--port", str(port)]
            command += ["--log-level", "warning"]
            process, log = _spawn(command, server_cpu, workdir, env)
            try:
                url = f"http://127.0.0.1:{port}/healthz"
                await asyncio.to_thread(_wait_ready, process, port, log, url)
                if not args.no_pin:
                    os.sched_setaffinity(0, {1})
                return await _bench(args, recorder, population, port, [process.pid, *db_pids])
            finally:
                terminate(process)


def _rates(text: str) -> list[float]:
    return [float(rate) for rate in text.split(",") if rate]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks push", description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--devices", type=int, default=1000, help="offline patient devices")
    parser.add_argument("--practitioners", type=int, default=10, help="who sends")
    parser.add_argument("--rates", type=_rates, default=[50.0], help="msgs/s per step")
    parser.add_argument(
        "--messages", type=int, default=0, help="per step (default: one per thread)"
    )
    parser.add_argument("--drain-seconds", type=float, default=120.0)
    parser.add_argument("--settle-seconds", type=float, default=3.0)
    parser.add_argument("--no-pin", action="store_true", help="do not pin to cores 0 and 1")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    args.messages = args.messages or args.devices
    with tempfile.TemporaryDirectory(prefix="carehub-bench-") as work:
        result = asyncio.run(_run(args, Path(work)))
    now = datetime.datetime.now(datetime.UTC)
    document = {
        "scenario": "push",
        "date": now.isoformat(timespec="seconds"),
        "command": shlex.join(["python", "-m", "benchmarks", "push", *argv]),
        "db": args.db,
        "machine": machine(None if args.no_pin else 0, None if args.no_pin else 1),
        "options": {
            "devices": args.devices,
            "practitioners": args.practitioners,
            "messages_per_step": args.messages,
            "rates": args.rates,
            "settle_seconds": args.settle_seconds,
        },
        **result,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"push-{args.db}-{now:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(document, indent=1))
    print(
        f"exactly once: {result['exactly_once']} ({result['pushes']} pushes,"
        f" {result['distinct_ids']} ids, repeated {result['repeated_ids']})"
    )
    print(f"wrote {path}")
    return 0 if result["exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
