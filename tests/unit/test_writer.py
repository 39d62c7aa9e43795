"""Group commit against a real SQLite file: one transaction per batch, events
published in seq order before callers hear back, one bad write fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from protocol.codec import Codec, to_raw
from protocol.errors import ErrorCode
from protocol.frames import Event
from server.broker.base import Delivery
from server.broker.control import AccessChanged, Control, KeysChanged, ThreadChanged
from server.clock import Clock
from server.errors import ServerError, forbidden
from server.writer import CONTENTION_TRIES, LAST, Emitted, Outgoing, ReadAhead, Staged, Writer
from storage import Database, Events, Store, WriteTx
from storage.errors import Contention
from storage.hot import _Asyncpg
from storage.messages import NewMessage, StoredMessage
from storage.schema import messages
from tests.support.rows import people, thread_of

Op = Callable[[WriteTx, list[Outgoing]], Awaitable[Any]]
codec = Codec(1 << 20)


class FixedClock(Clock):
    def ms(self) -> int:
        return 1_700_000_000_000


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await database.migrate()
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE notes (body TEXT PRIMARY KEY)"))
    yield database
    await database.close()


class Harness:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.log: list[tuple[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self.writer = Writer(db, self.publish, FixedClock())

    async def publish(self, delivery: Delivery) -> None:
        await asyncio.sleep(0)  # give resolved callers a chance to run too early
        self.deliveries.append(delivery)
        self.log.append(("publish", delivery.seq))

    async def call(self, name: str, op: Op) -> Any:
        try:
            return await self.writer.run(op)
        finally:
            self.log.append(("answer", name))

    async def batch(self, ops: dict[str, Op]) -> dict[str, Any]:
        """Submit every operation before the writer runs, then wait for all."""
        calls = {name: asyncio.create_task(self.call(name, op)) for name, op in ops.items()}
        await asyncio.sleep(0)  # every call is queued
        self.writer.start()
        try:
            done = await asyncio.wait_for(
                asyncio.gather(*calls.values(), return_exceptions=True), 5
            )
        finally:
            await asyncio.wait_for(self.writer.stop(), 5)
        return dict(zip(calls, done, strict=True))

    async def notes(self) -> list[str]:
        async with self.db.read() as conn:
            return list((await conn.scalars(text("SELECT body FROM notes ORDER BY body"))).all())

    async def stored(self) -> list[tuple[int, str, bytes | None]]:
        async with self.db.read() as conn:
            rows = await conn.execute(text("SELECT seq, type, data FROM events ORDER BY seq"))
            return [(row.seq, row.type, row.data) for row in rows]


def note(body: str, events: int = 1) -> Op:
    """Insert a note and emit ``events`` receipt events about it."""

    async def op(tx: WriteTx, out: list[Outgoing]) -> str:
        await tx.connection.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": body})
        for i in range(events):
            out.append(Outgoing("receipt", to_raw({"note": body, "i": i}), [1], user_id=1))
        return body

    return op


def refuse(message: str) -> Op:
    async def op(tx: WriteTx, out: list[Outgoing]) -> None:
        out.append(Outgoing("receipt", to_raw({"refused": True}), [1], user_id=1))
        raise forbidden(message, why="test")

    return op


def bad_sql(calls: list[int]) -> Op:
    async def op(tx: WriteTx, out: list[Outgoing]) -> None:
        calls.append(1)
        out.append(Outgoing("receipt", to_raw({"bad": True}), [1], user_id=1))
        await tx.connection.execute(text("INSERT INTO notes (body) VALUES ('twice'), ('twice')"))

    return op


def losing(body: str, races: int, calls: list[int]) -> Op:
    """Writes a note, having lost its first ``races`` races to another node."""

    async def op(tx: WriteTx, out: list[Outgoing]) -> str:
        calls.append(1)
        await note(body)(tx, out)
        if len(calls) <= races:
            raise Contention("lost")
        return body

    return op


def counted(op: Op, calls: list[int]) -> Op:
    async def wrapper(tx: WriteTx, out: list[Outgoing]) -> Any:
        calls.append(1)
        return await op(tx, out)

    return wrapper


def named(ran: list[object]) -> Callable[[str], Op]:
    """Operations that write nothing and say when they ran, by name."""

    def on_thread(name: str) -> Op:
        async def op(tx: WriteTx, out: list[Outgoing]) -> str:
            ran.append(name)
            return name

        return op

    return on_thread


def published(h: Harness) -> list[tuple[int | None, Any]]:
    """The (seq, data) of every published event frame, in publish order."""
    out = []
    for delivery in h.deliveries:
        [frame] = codec.decode_server(delivery.frame)
        assert isinstance(frame, Event)
        assert frame.seq == delivery.seq
        assert delivery.recipients == [1]
        out.append((frame.seq, msgspec.msgpack.decode(frame.data)))
    return out


async def test_a_write_submitted_in_the_same_turn_of_the_loop_joins_the_batch(
    db: Database,
) -> None:
    """The writer wakes for a first operation; a handler that the same turn
    of the loop runs after it (a frame read since) submits a second: one
    commit for both."""
    h = Harness(db)
    h.writer.start()
    submitted = asyncio.Event()

    async def first() -> Any:
        answer = h.call("first", note("n1"))
        queued = asyncio.ensure_future(answer)
        await asyncio.sleep(0)  # its operation queued: the writer wakes
        submitted.set()  # the second handler runs after the writer's wake-up
        return await queued

    async def second() -> Any:
        await submitted.wait()
        return await h.call("second", note("n2"))

    try:
        answers = await asyncio.wait_for(asyncio.gather(first(), second()), 5)
    finally:
        await h.writer.stop()
    assert answers == ["n1", "n2"]
    assert (h.writer.commits, h.writer.operations) == (1, 2)


async def test_a_patient_operation_waits_for_the_next_one_and_shares_its_commit(
    db: Database,
) -> None:
    h = Harness(db)
    h.writer.start()
    try:
        patient = asyncio.ensure_future(h.writer.run(note("receipt"), within=3600))
        done, _ = await asyncio.wait({patient}, timeout=0.3)
        assert not done and h.writer.commits == 0  # it waits: no transaction of its own
        assert await asyncio.wait_for(h.writer.run(note("send")), 5) == "send"
        assert await asyncio.wait_for(patient, 5) == "receipt"
    finally:
        await h.writer.stop()
    assert (h.writer.commits, h.writer.operations) == (1, 2)
    assert await h.notes() == ["receipt", "send"]


async def test_patient_operations_alone_run_together_once_the_earliest_wait_is_over(
    db: Database,
) -> None:
    h = Harness(db)
    h.writer.start()
    try:
        long = asyncio.ensure_future(h.writer.run(note("long"), within=3600))
        await asyncio.sleep(0)  # submitted first
        short = h.writer.run(note("short"), within=0.01)
        answers = await asyncio.wait_for(asyncio.gather(long, short), 5)
    finally:
        await h.writer.stop()
    assert answers == ["long", "short"]
    assert (h.writer.commits, h.writer.operations) == (1, 2)


async def test_a_hurried_writer_keeps_no_operation_waiting(db: Database) -> None:
    """Hurried (a call waits on its connection's earlier answers), the
    writer runs those waiting at once, and makes none wait meanwhile."""
    h = Harness(db)
    h.writer.start()
    try:
        waiting = asyncio.ensure_future(h.writer.run(note("before"), within=3600))
        await asyncio.sleep(0)  # submitted: it waits
        with h.writer.hurried():
            assert await asyncio.wait_for(waiting, 5) == "before"
            assert await asyncio.wait_for(h.writer.run(note("during"), within=3600), 5)
        after = asyncio.ensure_future(h.writer.run(note("after"), within=3600))
        done, _ = await asyncio.wait({after}, timeout=0.3)
        assert not done  # waiting again
    finally:
        await h.writer.stop()
    assert after.result() == "after"
    assert h.writer.commits == 3


async def test_a_stopping_writer_keeps_no_operation_waiting(db: Database) -> None:
    """What waits runs at once, and what comes next (a receipt its node
    drains) waits no more: the node stops without waiting them out."""
    h = Harness(db)
    h.writer.start()
    try:
        waiting = asyncio.ensure_future(h.writer.run(note("waiting"), within=3600))
        await asyncio.sleep(0)  # submitted
        h.writer.stop_waiting()
        assert await asyncio.wait_for(waiting, 5) == "waiting"
        drained = h.writer.run(note("drained"), within=3600)
        assert await asyncio.wait_for(drained, 5) == "drained"
    finally:
        await asyncio.wait_for(h.writer.stop(), 5)
    assert await h.notes() == ["drained", "waiting"]


async def test_operations_submitted_together_share_one_commit(db: Database) -> None:
    h = Harness(db)
    head = await Events(db).head()
    results = await h.batch({f"op{i}": note(f"n{i}", events=i % 3) for i in range(6)})
    assert results == {f"op{i}": f"n{i}" for i in range(6)}
    assert (h.writer.commits, h.writer.operations) == (1, 6)
    assert await h.notes() == [f"n{i}" for i in range(6)]

    expected = [{"note": f"n{i}", "i": k} for i in range(6) for k in range(i % 3)]
    seqs = list(range(head + 1, head + 1 + len(expected)))
    assert published(h) == list(zip(seqs, expected, strict=True))
    assert [(seq, type_) for seq, type_, _ in await h.stored()] == [(s, "receipt") for s in seqs]
    assert await Events(db).head() == seqs[-1]


async def test_an_operation_knows_the_seq_its_stream_reached(db: Database) -> None:
    """Membership windows start and end at ``position``: at or above every
    event emitted before it in the batch, earlier operations' included, and
    below every later one. Asked before anything was emitted, it takes a
    seq of its own (``a``)."""
    head = await Events(db).head()
    seen: dict[str, tuple[int, int]] = {}

    def marking(name: str, events: int) -> Op:
        async def op(tx: WriteTx, out: Emitted) -> None:
            before = await out.position(tx)
            await note(name, events)(tx, out)
            seen[name] = (before, await out.position(tx))

        return op

    await Harness(db).batch(
        {"a": marking("a", 2), "refused": refuse("no"), "b": marking("b", 1), "c": marking("c", 0)}
    )
    assert seen == {
        "a": (head + 1, head + 3),
        "b": (head + 3, head + 4),
        "c": (head + 4, head + 4),
    }
    assert await Events(db).head() == head + 4


async def test_events_are_published_before_any_caller_hears_back(db: Database) -> None:
    h = Harness(db)
    await h.batch({"a": note("a", 2), "b": note("b", 1), "c": note("c", 0)})
    kinds = [kind for kind, _ in h.log]
    assert kinds == ["publish"] * 3 + ["answer"] * 3
    seqs = [seq for kind, seq in h.log if kind == "publish"]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3


async def test_a_refusal_fails_alone(db: Database) -> None:
    h = Harness(db)
    results = await h.batch({"a": note("a"), "no": refuse("not yours"), "c": note("c")})
    assert results["a"] == "a"
    assert results["c"] == "c"
    refusal = results["no"]
    assert isinstance(refusal, ServerError)
    assert (refusal.code, refusal.message, refusal.details) == (
        ErrorCode.FORBIDDEN,
        "not yours",
        {"why": "test"},
    )
    assert h.writer.commits == 1
    assert await h.notes() == ["a", "c"]
    assert [data["note"] for _, data in published(h)] == ["a", "c"]  # not the refused event
    assert len(await h.stored()) == 2


async def test_a_database_error_fails_alone_after_one_by_one_retry(db: Database) -> None:
    h = Harness(db)
    a_calls: list[int] = []
    bad_calls: list[int] = []
    c_calls: list[int] = []
    results = await h.batch(
        {
            "a": counted(note("a"), a_calls),
            "bad": bad_sql(bad_calls),
            "c": counted(note("c"), c_calls),
        }
    )
    assert (results["a"], results["c"]) == ("a", "c")
    assert isinstance(results["bad"], IntegrityError)  # a bad write, not an outage
    # a and bad ran in the batch, which stopped at bad; then each ran alone.
    assert (len(a_calls), len(bad_calls), len(c_calls)) == (2, 2, 1)
    assert (h.writer.commits, h.writer.operations) == (2, 2)
    assert await h.notes() == ["a", "c"]
    # The failed batch's seqs were rolled back with it: no gap in the stream.
    head_before = published(h)[0][0]
    assert [seq for seq, _, _ in await h.stored()] == [head_before, head_before + 1]
    assert [data["note"] for _, data in published(h)] == ["a", "c"]


async def test_a_batch_that_lost_a_race_runs_again_whole(db: Database) -> None:
    """Read anew, a batch that lost a race usually goes through as one: it
    runs again whole (``CONTENTION_TRIES`` in all), then each alone."""
    h = Harness(db)
    calls: dict[str, list[int]] = {name: [] for name in ("a", "raced", "b", "lost")}
    once = await h.batch(
        {"a": counted(note("a"), calls["a"]), "raced": losing("raced", 1, calls["raced"])}
    )
    assert once == {"a": "a", "raced": "raced"}
    assert (len(calls["a"]), len(calls["raced"]), h.writer.commits) == (2, 2, 1)
    always = await h.batch(
        {"b": counted(note("b"), calls["b"]), "lost": losing("lost", 99, calls["lost"])}
    )
    assert always["b"] == "b" and isinstance(always["lost"], Contention)
    tries = CONTENTION_TRIES  # whole, then alone: the lost one in full, its neighbour once
    assert (len(calls["b"]), len(calls["lost"])) == (tries + 1, tries + tries)
    assert h.writer.commits == 2
    assert await h.notes() == ["a", "b", "raced"]


async def test_a_conflicting_write_fails_alone(db: Database) -> None:
    h = Harness(db)
    results = await h.batch({"a": note("same"), "dup": note("same"), "c": note("other")})
    assert (results["a"], results["c"]) == ("same", "other")
    assert isinstance(results["dup"], DBAPIError)
    assert await h.notes() == ["other", "same"]


async def test_a_lone_failure_commits_nothing(db: Database) -> None:
    h = Harness(db)
    results = await h.batch({"bad": bad_sql([])})
    assert isinstance(results["bad"], IntegrityError)  # a bad write, not an outage
    assert (h.writer.commits, h.deliveries, await h.stored()) == (0, [], [])


async def test_writer_keeps_going_after_a_failure(db: Database) -> None:
    h = Harness(db)
    h.writer.start()
    try:
        with pytest.raises(DBAPIError):
            await asyncio.wait_for(h.writer.run(bad_sql([])), 5)
        assert await asyncio.wait_for(h.writer.run(note("after")), 5) == "after"
    finally:
        await asyncio.wait_for(h.writer.stop(), 5)
    assert await h.notes() == ["after"]


async def test_a_failing_publish_does_not_stall_the_writer(db: Database) -> None:
    async def broken(delivery: Delivery) -> None:
        raise ConnectionError("broker down")

    writer = Writer(db, broken, FixedClock())
    writer.start()
    try:
        # The write is committed, so it is acknowledged; the client resumes to get the event.
        assert await asyncio.wait_for(writer.run(note("a")), 2) == "a"
        assert await asyncio.wait_for(writer.run(note("b", 0)), 2) == "b"
    finally:
        await asyncio.wait_for(writer.stop(), 5)


async def test_a_batch_runs_its_operations_in_thread_order(db: Database) -> None:
    """Two nodes' writers then lock thread rows in the same order: no deadlock."""
    ran: list[object] = []
    on_thread = named(ran)

    writer = Writer(db, Harness(db).publish, FixedClock())
    submitted = [("t3-a", 3), ("none", 0), ("t1", 1), ("t3-b", 3), ("t2", 2)]
    calls = [asyncio.create_task(writer.run(on_thread(name), thread)) for name, thread in submitted]
    await asyncio.sleep(0)  # every call is queued before the writer starts
    writer.start()
    try:
        assert await asyncio.wait_for(asyncio.gather(*calls), 5) == [n for n, _ in submitted]
    finally:
        await writer.stop()
    assert ran == ["none", "t1", "t2", "t3-a", "t3-b"]
    assert writer.commits == 1


async def test_a_batch_reads_ahead_at_once_vouching_for_firsts_and_bursts(
    db: Database,
) -> None:
    """Once the operations with no thread have run, one read of each kind,
    given every key of the batch's operations on a thread, and whether the
    batch vouches for each: its thread's first, or one after operations
    that all stage; one alone reads for itself."""
    ran: list[object] = []

    async def read(tx: WriteTx, keys: list[Any]) -> None:
        ran.append(("read", keys))

    on_thread = named(ran)

    writer = Writer(db, Harness(db).publish, FixedClock())
    submitted = [("t3-a", 3), ("none", 0), ("t1", 1), ("t3-b", 3), ("t2", 2), ("last", LAST)]
    submitted += [("t5-a", 5), ("t5-b", 5), ("t5-c", 5)]
    ahead = {"t1": None, "none": ReadAhead(read, "none")}  # t1: a first that does not read
    ahead |= {name: ReadAhead(read, name, stages=True) for name in ("t5-a", "t5-b")}
    calls = [
        asyncio.create_task(
            writer.run(on_thread(name), thread, ahead.get(name, ReadAhead(read, name)))
        )
        for name, thread in submitted
    ]
    await asyncio.sleep(0)  # every call is queued before the writer starts
    writer.start()
    try:
        await asyncio.wait_for(asyncio.gather(*calls), 5)
        await writer.run(on_thread("alone"), 4, ReadAhead(read, "alone"))
    finally:
        await writer.stop()
    keys = [("t2", True), ("t3-a", True), ("t3-b", False)]  # t3-a may write itself
    keys += [("t5-a", True), ("t5-b", True), ("t5-c", True)]  # a burst: the first two stage
    order = ["t1", "t2", "t3-a", "t3-b", "t5-a", "t5-b", "t5-c", "last", "alone"]
    assert ran == ["none", ("read", keys), *order]


async def _staging_batch(
    store: Store,
    submitted: list[tuple[str, int, bool]],
    read_ahead: Callable[[str], bool],
    sender: tuple[int, int],
) -> tuple[list[object], Harness]:
    """Run one batch of staging operations (``name``, thread, whether it
    stages read ahead), each of a message from ``sender`` (user, device):
    each notes how many messages it finds stored and the answer read ahead
    for it, if any, and refuses if its name says so. ``read_ahead``:
    whether the read answers a vouched name. What ran."""
    patient, device = sender
    ran: list[object] = []

    async def read(tx: WriteTx, keys: list[tuple[str, bool]]) -> None:
        answered = [key for key, vouched in keys if vouched and read_ahead(key)]
        tx.ahead.update((key, f"read {key}") for key in answered)

    def staging(name: str, thread: int) -> Op:
        async def op(tx: WriteTx, out: list[Outgoing]) -> Staged[str]:
            count = await tx.connection.scalar(select(func.count()).select_from(messages))
            ran.append((name, count, tx.ahead.pop(name, None)))
            if name.startswith("refused"):
                raise forbidden(name)

            def then(message: StoredMessage) -> str:
                ran.append((f"{name} stored", message.seq))
                out.append(Outgoing("receipt", to_raw({"note": name}), [1], user_id=1))
                return name

            new = NewMessage(thread, patient, device, name, "text", None, True, b"sealed", 0)
            return Staged(new, then)

        return op

    h = Harness(store.db)
    calls = [
        asyncio.create_task(h.writer.run(staging(name, t), t, ReadAhead(read, name, stages=s)))
        for name, t, s in submitted
    ]
    await asyncio.sleep(0)  # every call is queued before the writer starts
    h.writer.start()
    try:
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
    finally:
        await h.writer.stop()
    assert [o if isinstance(o, str) else "refused" for o in outcomes] == [
        "refused" if name.startswith("refused") else name for name, _, _ in submitted
    ]
    assert h.writer.commits == 1
    return ran, h


async def test_staged_messages_are_stored_together_before_an_operation_not_read_ahead(
    database_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read ahead, an operation may leave its message staged, and so may
    its thread's later operations while each before them stages: the
    writer stores the staged messages together, in batch order (on
    PostgreSQL in one round trip), before an operation that was not read
    ahead runs (it may read them) or one that writes itself, or when the
    batch ends, then makes each outcome; the events keep the batch's
    order. On both backends."""
    store = Store(database_factory())
    await store.db.migrate()
    together: list[int] = []  # how many messages each pipelined round trip stored
    fetchmany = _Asyncpg.fetchmany

    async def counted(self: _Asyncpg, sql: str, values: list[list[Any]]) -> Any:
        together.append(len(values))
        return await fetchmany(self, sql, values)

    monkeypatch.setattr(_Asyncpg, "fetchmany", counted)
    patient, doctor = await people(store)
    made = [await thread_of(store, patient, doctor) for _ in range(4)]
    (t1, device), (t2, _), (t3, _), (t4, _) = made
    submitted = [("a", t1, True), ("b", t2, True), ("b2", t2, True), ("c", t3, True)]
    submitted.append(("c2", t3, True))  # not read ahead: the staged are stored first
    submitted.append(("d", t4, False))  # read ahead, but it writes itself: staged go first
    try:
        ran, h = await _staging_batch(
            store, submitted, lambda name: name != "c2", (patient, device)
        )
    finally:
        await store.close()
    assert ran == [
        ("a", 0, "read a"),
        ("b", 0, "read b"),
        ("b2", 0, "read b2"),  # its thread's second, read as if b were stored
        ("c", 0, "read c"),
        ("a stored", 1),
        ("b stored", 1),
        ("b2 stored", 2),
        ("c stored", 1),
        ("c2", 4, None),
        ("c2 stored", 2),
        ("d", 5, "read d"),
        ("d stored", 1),
    ]
    assert together == ([] if store.db.is_sqlite else [4])  # c2 and d, alone, in their own
    seqs, notes = zip(*((seq, data["note"]) for seq, data in published(h)), strict=True)
    assert notes == ("a", "b", "b2", "c", "c2", "d") and list(seqs) == sorted(seqs)


async def test_a_threads_later_answers_are_dropped_once_one_before_them_stages_nothing(
    database_factory,
) -> None:
    """A thread's operation read ahead on the promise that those before it
    stage: one refused, and its thread's later ones read for themselves,
    once the staged messages are stored. Another thread's are kept; and
    after one read ahead that may write itself, none is."""
    store = Store(database_factory())
    await store.db.migrate()
    patient, doctor = await people(store)
    made = [await thread_of(store, patient, doctor) for _ in range(3)]
    (t1, device), (t2, _), (t3, _) = made
    submitted = [("a", t1, True), ("a2", t1, True), ("b", t2, True), ("refused", t2, True)]
    submitted += [("b3", t2, True), ("c", t3, False), ("c2", t3, True)]
    try:
        ran, _ = await _staging_batch(store, submitted, lambda name: True, (patient, device))
    finally:
        await store.close()
    assert ran == [
        ("a", 0, "read a"),
        ("a2", 0, "read a2"),
        ("b", 0, "read b"),
        ("refused", 0, "read refused"),
        ("a stored", 1),
        ("a2 stored", 2),
        ("b stored", 1),
        ("b3", 3, None),
        ("b3 stored", 2),
        ("c", 4, "read c"),
        ("c stored", 1),
        ("c2", 5, None),
        ("c2 stored", 2),
    ]


async def test_a_commits_control_messages_go_once_and_before_its_events(db: Database) -> None:
    """Every node drops the caches a commit made stale before it is handed
    any event of that commit; one change told to three users is one message."""
    heard: list[object] = []

    async def publish(delivery: Delivery) -> None:
        heard.append(delivery.seq)

    async def publish_control(message: Control) -> None:
        heard.append(message)

    async def new_keys(tx: WriteTx, out: list[Outgoing]) -> None:
        for user in (1, 2, 3):
            out.append(
                Outgoing("keys.updated", to_raw({}), [user], user_id=user, control=KeysChanged(9))
            )

    async def joined(tx: WriteTx, out: list[Outgoing]) -> None:
        out.append(Outgoing("receipt", to_raw({}), [1], user_id=1))
        out.append(
            Outgoing("thread.updated", to_raw({}), [1, 2], 5, control=ThreadChanged(5, [1, 2]))
        )

    writer = Writer(db, publish, FixedClock(), publish_control=publish_control)
    calls = [asyncio.create_task(writer.run(op)) for op in (new_keys, joined)]
    await asyncio.sleep(0)  # both are queued: one commit
    writer.start()
    await asyncio.wait_for(asyncio.gather(*calls), 5)
    await writer.stop()
    first = heard[2]
    assert heard == [KeysChanged(9), ThreadChanged(5, [1, 2]), *range(first, first + 5)]


async def test_a_delegate_hears_why_before_its_sockets_close(db: Database) -> None:
    """A changed delegation's ``delegation.updated`` reaches the delegate's
    sockets before the ``AccessChanged`` that closes them."""
    heard: list[object] = []

    async def publish(delivery: Delivery) -> None:
        heard.append(delivery.seq)

    async def publish_control(message: Control) -> None:
        heard.append(message)

    async def revoked(tx: WriteTx, out: list[Outgoing]) -> None:
        out.append(
            Outgoing("delegation.updated", to_raw({}), [7], user_id=7, control=AccessChanged(7))
        )

    writer = Writer(db, publish, FixedClock(), publish_control=publish_control)
    writer.start()
    await asyncio.wait_for(writer.run(revoked), 5)
    await writer.stop()
    assert len(heard) == 2 and isinstance(heard[0], int)
    assert heard[1] == AccessChanged(7)
