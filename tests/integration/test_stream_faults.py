"""The durable event stream under faults, for live readers on three nodes (issue 18).

Three real carehub nodes share one PostgreSQL and one redis-server. One
patient has a device on each of the nodes (the readers); practitioners,
each in a thread of their own with the patient, send through SDK clients on
chosen nodes (the writers). Then:

- writers on the three nodes fire on shared ticks, one node busy with many
  sockets: transactions of several nodes commit consecutive seqs within
  milliseconds of each other;
- Redis stops under load and comes back, empty, 4 s or 1 s later;
- the node 50 sockets send through is killed (SIGKILL) after it stored
  sends it has not answered yet; the clients fail over to another node and
  send them again.

Each reader is counted on its own (``tests.support.readers``): every
message a writer got an acknowledgement for must be handed to the reader
once (none lost, none twice, none dropped by the SDK as at or below its
cursor), and in order: the seqs of the durable events a reader is handed
strictly increase over the whole test, and so do the thread_seqs within each
thread. The seqs are also checked as they come off the socket, before the
SDK filters them (repeated, or late: below a seq already received). The
counts and the recovery times are printed (run with ``-s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clients import Client, Credentials
from protocol.methods import HistoryParams
from tests.integration import test_nodes
from tests.support.readers import (
    Count,
    Delivered,
    Reader,
    Sent,
    TappedClient,
    Writer,
    all_received,
    tally,
)
from tests.support.server import RunningServer

pytestmark = pytest.mark.timeout(90)

# test_nodes' fixtures (three nodes on the session's Redis; a redis-server of
# the test's own, since it restarts it) and its way of starting the nodes.
nodes = test_nodes.nodes
own_redis = test_nodes.own_redis
three_nodes = test_nodes.three_nodes

SETTLE_SECONDS = 8.0  # after the last send, for every reader to have every thread's last message
TICKS = 40  # shared ticks of the race test
BUSY = 4  # practitioners writing through node 0 in the race test
BUSY_SOCKETS = 4  # each, on this many sockets (a node answers a socket's calls one at a time)
LONE_SENDS = 3  # per tick, by the one socket on node 1 and the one on node 2
TICK_INTERVAL = 0.02  # the pace of the load during a Redis outage
OUTAGE_TICKS = 25  # ticks of load before the outage, and again after Redis is back
KILLED_DOCTORS = 10  # practitioners writing through the node that is killed
KILLED_SOCKETS = 5  # each, on this many sockets: 50 sends in flight at each tick
KILLED_TICKS = 8  # ticks in all
KILL_ARMED_AFTER = 2  # ticks before a reader's cue kills the node
KILL_CUES = 5  # messages handed to readers before their senders had an answer
KILL_AT_LATEST = 5  # ticks after which the node is killed without a cue


# Who talks: one patient, a device on each node; practitioners in threads with them.


@dataclass
class Circle:
    """A patient with one device per reader, and practitioners each in a thread with them."""

    node: RunningServer  # where they were made (every node shares its keys)
    devices: list[Credentials]  # the patient's
    doctors: list[Credentials]
    threads: list[int]  # threads[i]: doctors[i] and the patient

    @property
    def patient(self) -> Credentials:
        return self.devices[0]


async def a_patient_and_doctors(node: RunningServer, doctors: int, devices: int) -> Circle:
    patient = await node.user("patient")
    # One after the other: each is verified on a socket of the admin's one
    # device, and more than ``sockets_per_device`` at once would close the oldest.
    practitioners = [await node.user("practitioner") for _ in range(doctors)]
    threads = [await node.thread_with(doctor, patient) for doctor in practitioners]
    others = [await node.other_device(patient) for _ in range(devices - 1)]
    return Circle(node, [patient, *others], practitioners, threads)


async def readers_on(
    stack: contextlib.AsyncExitStack, on: Sequence[RunningServer], circle: Circle
) -> list[Reader]:
    """The patient's i-th device reading on the i-th node of ``on``."""
    readers = []
    for node, device in zip(on, circle.devices, strict=True):
        client = TappedClient(node.ws_url, device)
        await stack.enter_async_context(client)
        name = f"reader on {node.env.get('CAREHUB_NODE_ID', f'port {node.port}')}"
        reader = Reader(name, client, circle.threads)
        stack.push_async_callback(reader.stop)  # stops draining before its client closes
        readers.append(reader)
    return readers


async def writers_on(
    stack: contextlib.AsyncExitStack,
    sockets: Sequence[tuple[int, str | list[str]]],
    circle: Circle,
) -> list[Writer]:
    """A writer per ``(i, url)`` of ``sockets``: a socket of the i-th
    practitioner through ``url``, writing into their thread (one practitioner
    may have several sockets)."""
    writers = []
    for index, url in sockets:
        doctor, thread = circle.doctors[index], circle.threads[index]
        client = await stack.enter_async_context(Client(url, doctor))
        members = [doctor.user_id, circle.patient.user_id]
        writers.append(Writer(client, circle.node, doctor, thread, members))
    return writers


# How they send


async def fire_tick(writers: Sequence[Writer], tick: int, sends: Sequence[int] = ()) -> None:
    """Each writer sends its number of ``sends`` (one if not given), all at
    one instant (sealed first); the tick ends when every one is acknowledged.
    A node answers one socket's calls one at a time: its sends of one tick
    wait for each other, while those of several sockets share a transaction."""
    sealed = [
        (writer, writer.seal(f"tick {tick} #{i}"))
        for writer, count in zip(writers, sends or [1] * len(writers), strict=True)
        for i in range(count)
    ]
    await asyncio.gather(*(writer.send_sealed(*envelope) for writer, envelope in sealed))


async def send_fences(writers: Sequence[Writer]) -> None:
    """One last message per writer, one writer after another: none races
    another, so each thread's last message is there to wait for."""
    for writer in writers:
        await writer.send("fence")


class Load:
    """Writers firing on shared ticks every ``interval`` seconds, until stopped."""

    def __init__(self, writers: Sequence[Writer], interval: float) -> None:
        self.writers = writers
        self.ticks = 0
        self._interval = interval
        self._stopping = asyncio.Event()
        self._progress = asyncio.Condition()
        self._task = asyncio.create_task(self._run(), name="load")

    async def _run(self) -> None:
        next_tick = time.monotonic()
        while not self._stopping.is_set():
            await fire_tick(self.writers, self.ticks)
            self.ticks += 1
            async with self._progress:
                self._progress.notify_all()
            next_tick += self._interval
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))  # the pace of the load

    async def reached(self, ticks: int) -> None:
        async with self._progress:
            await self._progress.wait_for(lambda: self.ticks >= ticks or self._task.done())
        if self._task.done():
            self._task.result()  # a send failed: raise it here

    async def stop(self) -> None:
        self._stopping.set()
        await self._task


def sent_by(writers: Sequence[Writer]) -> list[Sent]:
    return [sent for writer in writers for sent in writer.sent]


def refused_by(writers: Sequence[Writer]) -> list[str]:
    return [code for writer in writers for code in writer.refused]


# What is printed and checked


def report(title: str, counts: Sequence[Count], *details: str) -> None:
    print(f"\n{title}")
    for line in (*details, *(count.line() for count in counts)):
        print(f"  {line}")


def assert_no_faults(counts: Sequence[Count]) -> None:
    faulty = [count.line() for count in counts if count.faults]
    assert not faulty, "readers lost, repeated or reordered messages:\n" + "\n".join(faulty)


# 1. Writers on different nodes committing on shared ticks


async def test_writers_on_different_nodes_committing_on_shared_ticks_lose_nothing(
    nodes: list[RunningServer],
) -> None:
    """Node 0 is busy: many sockets send at each tick, so it commits many
    events at once and they go out one after another. Nodes 1 and 2 have one
    socket each, sending at the same ticks: their transaction, queued behind
    node 0's, is short, and commits the next seqs while node 0's are still
    going out. A reader must still get every event once, in seq order."""
    circle = await a_patient_and_doctors(nodes[0], doctors=BUSY + 2, devices=3)
    busy = [(i, nodes[0].ws_url) for i in range(BUSY) for _ in range(BUSY_SOCKETS)]
    lone = [(BUSY, nodes[1].ws_url), (BUSY + 1, nodes[2].ws_url)]
    sends = [1] * len(busy) + [LONE_SENDS] * len(lone)
    async with contextlib.AsyncExitStack() as stack:
        readers = await readers_on(stack, nodes, circle)
        writers = await writers_on(stack, busy + lone, circle)
        started = time.monotonic()
        for tick in range(TICKS):
            await fire_tick(writers, tick, sends)
        await send_fences(writers)
        sent = sent_by(writers)
        settled = await all_received(readers, sent, SETTLE_SECONDS)
        counts = [tally(reader, sent) for reader in readers]
    report(
        "writers on three nodes, shared ticks",
        counts,
        f"{TICKS} ticks, each: {len(busy)} sockets on node 0 send 1,"
        f" {len(lone)} on nodes 1 and 2 send {LONE_SENDS}; with the fences"
        f" {len(sent)} acknowledged in {time.monotonic() - started:.2f} s"
        f" (refused: {refused_by(writers)}),"
        f" every reader had every thread's last message: {settled}",
    )
    assert refused_by(writers) == []
    assert_no_faults(counts)


# 2. Redis stopping under load, back (empty) after 4 s or after 1 s


async def test_a_redis_restart_under_load_loses_nothing(
    postgres: Any,
    own_redis: Any,
    tmp_path: Path,
) -> None:
    """Redis down for 4 s: a restart."""
    await _redis_outage_under_load(postgres, own_redis, tmp_path, outage=4.0)


async def test_a_1s_redis_blip_under_load_loses_nothing(
    postgres: Any,
    own_redis: Any,
    tmp_path: Path,
) -> None:
    """Redis down for 1 s: a blip."""
    await _redis_outage_under_load(postgres, own_redis, tmp_path, outage=1.0)


async def _redis_outage_under_load(
    postgres: Any, redis: Any, tmp_path: Path, outage: float
) -> None:
    """Writers on nodes 0 and 1 on shared ticks, readers on all three nodes.
    Redis stops after ``OUTAGE_TICKS`` ticks and starts again, empty,
    ``outage`` s later; the load goes on meanwhile and for ``OUTAGE_TICKS``
    ticks more. Sends refused during the outage (never acknowledged) are no
    fault."""
    running = three_nodes(postgres, redis.url, tmp_path)
    try:
        circle = await a_patient_and_doctors(running[0], doctors=4, devices=3)
        async with contextlib.AsyncExitStack() as stack:
            readers = await readers_on(stack, running, circle)
            sockets = [(i, running[i % 2].ws_url) for i in range(4)]
            writers = await writers_on(stack, sockets, circle)
            load = Load(writers, TICK_INTERVAL)
            await load.reached(OUTAGE_TICKS)
            down_at = time.monotonic()
            await asyncio.to_thread(redis.stop_server)
            await asyncio.sleep(outage)  # the outage itself
            await asyncio.to_thread(redis.start)
            up_at = time.monotonic()
            ticks_at_up = load.ticks
            await load.reached(ticks_at_up + OUTAGE_TICKS)
            await load.stop()
            await send_fences(writers)
            sent = sent_by(writers)
            settled = await all_received(readers, sent, SETTLE_SECONDS)
            counts = [tally(reader, sent) for reader in readers]
            reconnects = [reader.client.stats.reconnects for reader in readers]
        report(
            f"Redis down {outage:.0f} s under load",
            counts,
            f"{len(writers)} writers on two nodes, {load.ticks} ticks"
            f" ({ticks_at_up} when Redis was back): {len(sent)} acknowledged"
            f" ({sum(down_at <= m.at < up_at for m in sent)} during the outage),"
            f" refused {refused_by(writers)};"
            f" every reader had every thread's last message: {settled}",
            f"Redis down for {up_at - down_at:.2f} s; reader reconnects {reconnects}",
            *_lost_by_phase(counts, sent, down_at, up_at),
            *(_recovery(reader, sent, up_at) for reader in readers),
        )
        assert_no_faults(counts)
    finally:
        for node in running:
            node.stop()


def _lost_by_phase(
    counts: Sequence[Count], sent: Sequence[Sent], down: float, up: float
) -> list[str]:
    """When the lost messages were acknowledged: before, during or after the outage."""
    acknowledged_at = {message.message_id: message.at for message in sent}
    lines = []
    for count in counts:
        times = [acknowledged_at[message] for message in count.lost_ids]
        if times:
            before = sum(at < down for at in times)
            during = sum(down <= at < up for at in times)
            lines.append(
                f"{count.reader} lost, by acknowledgement: {before} before the outage,"
                f" {during} during, {len(times) - before - during} after"
            )
    return lines


def _recovery(reader: Reader, sent: Sequence[Sent], up: float) -> str:
    """From Redis back up: the reader's first message, and its having every
    message acknowledged before then (perhaps before Redis was back)."""
    first = min((m.at for m in reader.messages if m.at >= up), default=None)
    owed = {m.message_id for m in sent if m.at < up and m.thread in reader.threads}
    arrived = {m.message_id: m.at for m in reader.messages}
    caught_up = max(arrived[m] for m in owed) if owed <= arrived.keys() else None
    return (
        f"{reader.name}, from Redis back up (negative: before): first message"
        f" {_relative(first, up)}, every message acknowledged before then"
        f" {_relative(caught_up, up)}"
    )


def _relative(at: float | None, since: float) -> str:
    return "never" if at is None else f"{at - since:+.3f} s"


# 3. A node killed between commit and answer


async def test_a_node_killed_between_commit_and_answer_loses_nothing(
    nodes: list[RunningServer],
) -> None:
    """50 sockets of practitioners send through node 0 on shared ticks, and
    can fail over to node 1. Node 0 commits a tick's sends together, then
    pushes their events out one by one and answers: it gets SIGKILL the
    moment readers are handed a few messages whose senders have no answer
    yet (at the latest after ``KILL_AT_LATEST`` ticks). Sends stored but never
    answered are sent again (answered "already stored"), and some of their
    events may never have left node 0. The retries must be stored once, and
    the readers on nodes 1 and 2 get every message once, in order."""
    one, two, three = nodes
    circle = await a_patient_and_doctors(one, doctors=KILLED_DOCTORS, devices=2)
    failover = [one.ws_url, two.ws_url]
    sockets = [(i, failover) for i in range(KILLED_DOCTORS) for _ in range(KILLED_SOCKETS)]
    async with contextlib.AsyncExitStack() as stack:
        readers = await readers_on(stack, [two, three], circle)
        writers = await writers_on(stack, sockets, circle)
        load = Load(writers, interval=0.0)
        await load.reached(KILL_ARMED_AFTER)
        killer = Killer(one, writers, readers, cues=KILL_CUES)
        await killer.killed(at_the_latest=load.reached(KILL_AT_LATEST))
        await load.reached(KILLED_TICKS)
        await load.stop()
        sent = sent_by(writers)
        settled = await all_received(readers, sent, SETTLE_SECONDS)
        counts = [tally(reader, sent) for reader in readers]
        stored = await stored_messages(readers[0].client, circle.threads)
    fired = load.ticks * len(writers)
    report(
        f"node killed with {killer.in_flight} sends in flight",
        counts,
        f"killed on the readers' cue (they held {KILL_CUES} messages not yet answered):"
        f" {killer.on_cue}",
        f"sent {fired}, acknowledged {len({m.message_id for m in sent})}, stored {stored};"
        f" retried sends answered 'already stored': {sum(m.duplicate for m in sent)}"
        f" (they had committed before the kill); refused {refused_by(writers)};"
        f" every reader had every thread's last message: {settled}",
    )
    assert refused_by(writers) == []
    assert all(writer.client.url == two.ws_url for writer in writers)  # failed over
    assert len({m.message_id for m in sent}) == fired == stored  # each stored once
    assert all(count.unexpected == 0 for count in counts)  # nothing stored twice reached them
    assert_no_faults(counts)


class Killer:
    """SIGKILL ``node`` as soon as readers have been handed ``cues`` messages
    that ``writers`` have no answer for yet (stored, not answered): a few,
    so that the transaction that stored them has more to push out."""

    def __init__(
        self,
        node: RunningServer,
        writers: Sequence[Writer],
        readers: Sequence[Reader],
        cues: int,
    ) -> None:
        self.on_cue = False
        self.in_flight = 0  # sends unanswered at the kill
        self._node = node
        self._writers = writers
        self._cues_left = cues
        self._done = asyncio.Event()
        for reader in readers:
            reader.on_message = self._cue

    def _cue(self, message: Delivered) -> None:
        if any(message.client_msg_id in writer.unanswered for writer in self._writers):
            self._cues_left -= 1
            if self._cues_left == 0 and not self._done.is_set():
                self.on_cue = True
                self._kill()

    def _kill(self) -> None:
        if not self._done.is_set():
            assert self._node.process is not None
            self._node.process.kill()
            self.in_flight = sum(len(writer.unanswered) for writer in self._writers)
            self._done.set()

    async def killed(self, at_the_latest: Awaitable[None]) -> None:
        """Wait for the cue, or for ``at_the_latest``: then kill the node all the same."""
        cue = asyncio.create_task(self._done.wait())
        latest = asyncio.ensure_future(at_the_latest)
        await asyncio.wait([cue, latest], return_when=asyncio.FIRST_COMPLETED)
        self._kill()
        for waiting in (cue, latest):
            waiting.cancel()
        await asyncio.gather(cue, latest, return_exceptions=True)


async def stored_messages(client: Client, threads: Sequence[int]) -> int:
    """How many messages sent by a device (not notices) the threads' histories hold."""
    stored = 0
    for thread in threads:
        before = None
        while True:
            page = await client.call("messages.history", HistoryParams(thread, before, limit=200))
            stored += sum(message.sender_device is not None for message in page.messages)
            if not page.has_more:
                break
            before = page.messages[-1].thread_seq
    return stored
