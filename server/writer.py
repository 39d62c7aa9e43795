"""Group commit: concurrent writes share one transaction.

Handlers submit *operations*; the writer runs every operation waiting at that
moment inside one transaction, stores the durable events they emitted, commits
once, publishes the events in seq order, and only then answers each caller, so
an acknowledged write is durable and its event is already on its way.
An operation whose answer nobody needs at once (a receipt) may wait a
little (``within``) for another to be submitted, and runs in that one's
transaction; it takes a transaction of its own only when the wait is
over, or the writer is hurried (a call waits on its answer) or stopping.

An event may come with a control message (``Outgoing.control``: a cache
it makes stale, a socket it ends). After the commit, the batch's control
messages go to every node first, each once, and the events after them: the
broker keeps one publisher's order, so a node drops the caches a commit
made stale before the broker hands it any event of that commit or a later
one (a member told they joined a thread finds their node knows it too).

An operation may leave its one write, a message, ``Staged``: the writer
stores it with the messages the next operations leave (one round trip for
all on PostgreSQL, where each was one). Only an operation read ahead that
promises to write nothing itself (``ReadAhead.stages``) runs while
messages wait: before any other, they are stored, so that every read
still sees every write made before it, and threads are still locked in
the batch's order. A thread's operations after its first may be read
ahead too, as long as each before them stages (a device's burst to one
thread): their read answers as if those messages were stored. Should one
of those not stage after all (refused, or a retry's duplicate), the
thread's later answers are dropped, and each of its later operations
reads for itself once the staged messages are stored.

An operation must raise a ``ServerError`` (a refusal) before its first write;
if the transaction itself fails, each operation is retried alone so that one
bad write cannot fail its neighbours. A transaction that lost a race to
another node's (``Contention``: a deadlock, as nothing orders the writers
of several nodes, see ``storage.events``; or a send whose thread changed
since its read, ``storage.messages``) runs again first, whole, a few times:
read anew, the send is refused and its neighbours go through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from msgspec import Raw

from protocol.codec import encode_event
from server.broker.base import Delivery
from server.broker.control import AccessChanged, Control
from server.calls import queued
from server.clock import Clock
from server.commit_times import CommitTimes
from server.ending import ended
from server.errors import ServerError
from storage.db import ConsecutiveWrites, Database
from storage.errors import Contention
from storage.events import NewEvent
from storage.messages import NewMessage, StoredMessage
from storage.tx import WriteTx, write_tx

__all__ = [
    "LAST",
    "Emitted",
    "Numbering",
    "Operation",
    "Outgoing",
    "ReadAhead",
    "Staged",
    "Writer",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
# Writers of several nodes lock rows in no common order; PostgreSQL breaks a
# deadlock by failing one transaction, whose operations then run again alone.
CONTENTION_TRIES = 3
LAST = 2**63  # ``Writer.run``'s thread for an operation that goes after every other


@dataclass(slots=True)
class Outgoing:
    """A durable event an operation emits: stored, then pushed to
    ``recipients``; its ``control`` message, if any, goes to every node."""

    type: str
    data: Raw
    recipients: list[int]
    thread_id: int | None = None
    user_id: int | None = None
    message_id: int | None = None  # message.new is stored as a pointer to its message
    exclude_session: str | None = None
    control: Control | None = None
    seq: int | None = None  # given at commit (``EventTx.store``), or earlier by ``Numbering``

    @property
    def numbered(self) -> int:
        assert self.seq is not None, "an event is stored and delivered once numbered"
        return self.seq

    def to_store(self) -> tuple[int | None, NewEvent]:
        """The event as stored: numbered at the end of its transaction, unless already."""
        data = None if self.message_id is not None else bytes(self.data)
        return self.seq, NewEvent(self.type, self.thread_id, self.user_id, self.message_id, data)

    def to_deliver(self) -> Delivery:
        return Delivery(
            recipients=self.recipients,
            frame=encode_event(self.type, self.data, self.numbered),
            seq=self.numbered,
            exclude_session=self.exclude_session,
            thread=self.thread_id,
        )


class Numbering:
    """The seqs of one transaction's events, taken as late as possible: at
    commit, or where an operation asks for its ``position``. Events are
    numbered in the order they were emitted, operation after operation."""

    def __init__(self) -> None:
        self.accepted: list[Outgoing] = []  # the events of the operations that went through
        self.last: int | None = None

    async def number(self, tx: WriteTx, pending: list[Outgoing]) -> None:
        unnumbered = [event for event in pending if event.seq is None]
        if unnumbered:
            seqs = await tx.events.allocate(len(unnumbered))
            for event, seq in zip(unnumbered, seqs, strict=True):
                event.seq = seq
            self.last = seqs[-1]

    async def position(self, tx: WriteTx, mine: list[Outgoing]) -> int:
        """A seq at or above every event emitted so far and below every one
        emitted later (a membership window starts or ends there). With
        nothing emitted yet it takes a seq of its own that no event uses."""
        await self.number(tx, [*self.accepted, *mine])
        if self.last is None:
            self.last = (await tx.events.allocate(1))[0]
        return self.last


class Emitted(list[Outgoing]):
    """The events one operation emits, numbered by the transaction's ``Numbering``."""

    def __init__(self, numbering: Numbering) -> None:
        super().__init__()
        self._numbering = numbering

    async def position(self, tx: WriteTx) -> int:
        """The seq this operation's stream has reached: a membership window
        starts or ends here (``Numbering.position``)."""
        return await self._numbering.position(tx, self)


@dataclass(frozen=True, slots=True)
class Staged(Generic[T]):
    """An operation's one write, a message, left for the writer to store
    with the next operations' messages; ``then`` makes the operation's
    outcome of the stored message (its reader's receipt moved to it) and
    emits its events. It cannot refuse: the message is stored."""

    message: NewMessage
    then: Callable[[StoredMessage], T]


Operation = Callable[[WriteTx, Emitted], Awaitable[T | Staged[T]]]
# Reads of several operations at once: given their keys, each with whether
# the batch vouches for it (``_reads_ahead``), it leaves the answers it
# could read ahead in ``WriteTx.ahead``, by key.
Read = Callable[[WriteTx, list[tuple[Any, bool]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ReadAhead:
    """The read an operation begins with, which its batch may make earlier
    together with the same reads of other operations (one statement for
    all, where each is a round trip): ``read`` is given their keys and
    leaves the answers it could read ahead in ``WriteTx.ahead``, where their
    operations take them. ``stages``: read ahead, the operation writes
    nothing itself; it refuses, or returns its outcome or a ``Staged``
    message (which may then be stored after the next operations have run)."""

    read: Read
    key: Hashable
    stages: bool = False


_Item = tuple[Operation[Any], "asyncio.Future[Any]", int, ReadAhead | None]


async def _nowhere(message: Control) -> None:
    pass


class Writer:
    def __init__(
        self,
        db: Database,
        publish: Callable[[Delivery], Awaitable[None]],
        clock: Clock,
        max_batch: int = 256,
        *,
        publish_control: Callable[[Control], Awaitable[None]] = _nowhere,
    ) -> None:
        """``publish_control``: where the events' control messages go (by
        default nowhere, for a writer whose events no node caches: a benchmark)."""
        self._writes = ConsecutiveWrites(db)
        self._publish = publish
        self._publish_control = publish_control
        self._clock = clock
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()  # None: the waiting are due
        self._waiting: list[_Item] = []  # operations waiting for company (``within``)
        self._waiting_due: asyncio.TimerHandle | None = None
        self._hurried = 0  # while above 0, nothing waits for company
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        self.operations = 0
        self.commit_times = CommitTimes()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="group-commit")

    async def stop(self) -> None:
        """Finish what was submitted, then stop."""
        self.stop_waiting()
        await self._queue.join()
        await ended(self._task)
        await self._writes.close()

    async def run(
        self,
        operation: Operation[T],
        thread: int = 0,
        ahead: ReadAhead | None = None,
        *,
        within: float | None = None,
    ) -> T:
        """Run ``operation`` in the next transaction. ``thread``: the thread
        whose rows it locks, if one: a batch runs its operations in thread
        order, so the writers of two nodes lock threads in the same order
        and do not deadlock (``CONTENTION_TRIES`` covers what is left). An
        operation with a thread writes only that thread's rows (its
        messages among them) and, beyond them, only its sender's daily
        counts: reads ahead rely on it. One that may write anywhere has no
        thread (0).
        ``ahead``: the read it begins with, which may be made early, with
        its batch's others, when the batch vouches for it (``_reads_ahead``).
        ``within``: the seconds the operation may wait for company: it runs
        in the transaction of the next operation submitted without it, or
        in one of its own once the earliest wait is over. It goes after
        that batch's operations of its thread: it must not depend on the
        order of a thread's writes (a receipt's thread is ``LAST``)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        item = (operation, future, thread, ahead)
        if within is None or self._hurried:
            self._queue.put_nowait(item)
        else:
            self._wait_for_company(item, loop.time() + within)
        queued()  # a pipelined call's connection may read its next frame
        return await future

    @contextmanager
    def hurried(self) -> Iterator[None]:
        """Inside, no operation waits for company, and those waiting run now
        (a call waits for the answers of its connection's earlier ones)."""
        self._hurried += 1
        self._release_waiting()
        try:
            yield
        finally:
            self._hurried -= 1

    def stop_waiting(self) -> None:
        """From now on no operation waits for company (the node stops)."""
        self._hurried += 1
        self._release_waiting()

    def _wait_for_company(self, item: _Item, due: float) -> None:
        self._waiting.append(item)
        timer = self._waiting_due
        if timer is None or due < timer.when():
            if timer is not None:
                timer.cancel()
            self._waiting_due = asyncio.get_running_loop().call_at(due, self._release_waiting)

    def _release_waiting(self) -> None:
        """Wake the writer for the operations waiting, if any."""
        if self._waiting_due is not None:
            self._waiting_due.cancel()
            self._waiting_due = None
            self._queue.put_nowait(None)

    async def _loop(self) -> None:
        while True:
            taken = [await self._queue.get()]
            try:
                # What is ready to run now (a socket's frame read, a handler
                # resumed) may submit its write to this batch too: under
                # load, fuller transactions (``benchmarks/README.md``, issue
                # 22, twenty-first session).
                await asyncio.sleep(0)
                while len(taken) < self._max_batch and not self._queue.empty():
                    taken.append(self._queue.get_nowait())
                batch = [item for item in taken if item is not None] + self._take_waiting()
                batch.sort(key=lambda item: item[2])  # stable: one thread's writes stay in order
                if batch:
                    await self._commit(batch)
            finally:
                for _ in taken:
                    self._queue.task_done()

    def _take_waiting(self) -> list[_Item]:
        if self._waiting_due is not None:
            self._waiting_due.cancel()
            self._waiting_due = None
        waiting, self._waiting = self._waiting, []
        return waiting

    async def _commit(self, batch: list[_Item], tries: int = CONTENTION_TRIES) -> None:
        try:
            outcomes, events = await self._transaction(batch)
        except Exception as exc:
            if isinstance(exc, Contention) and tries > 1:
                # A race lost to another node (a deadlock, what a send read
                # changed since): run again, reading anew, still as one.
                await self._commit(batch, tries - 1)
                return
            if len(batch) > 1:
                # Expected now and then (a retry racing its first attempt on
                # another node, a race lost again); a bad write is logged alone.
                log.info("a batch of %d failed, each runs again alone: %r", len(batch), exc)
                for item in batch:
                    await self._commit([item])
                return
            outcomes, events = [exc], []
        await self._announce(events)
        for (_, future, _, _), outcome in zip(batch, outcomes, strict=True):
            if future.done():  # the caller went away
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _announce(self, events: list[Outgoing]) -> None:
        """Publish the committed events with their control messages, each
        once: the caches they make stale first, then the events in seq order
        (the order the module docstring relies on), then the sockets they
        end (a delegate's, whose delegation changed: it hears why first)."""
        controls: list[Control] = []
        for event in events:
            if event.control is not None and event.control not in controls:
                controls.append(event.control)
        ending = [message for message in controls if isinstance(message, AccessChanged)]
        for message in controls:
            if message not in ending:
                await self._control(message)
        for event in events:
            try:
                await self._publish(event.to_deliver())
            except Exception:  # stored, so answered: with Redis, nodes read it from storage
                log.exception("publishing event %d failed", event.seq)
        for message in ending:
            await self._control(message)

    async def _control(self, message: Control) -> None:
        try:
            await self._publish_control(message)
        except Exception:  # lost like any publication: a broker outage is recovered from
            log.exception("publishing %r failed", message)

    async def _transaction(self, batch: list[_Item]) -> tuple[list[Any], list[Outgoing]]:
        reads = _reads_ahead(batch)
        async with write_tx(self._writes) as tx:
            done = _Done(tx)
            unstaged: set[int] = set()  # threads with an operation that staged nothing
            for operation, _, thread, ahead in batch:
                if reads and thread != 0:  # those with no thread have run
                    await done.store_staged()
                    for read, keys in reads.items():
                        await read(tx, keys)
                    reads = {}
                if ahead is not None and thread in unstaged:  # its answer took one as staged
                    tx.ahead.pop(ahead.key, None)
                # (an answer read ahead is taken by its operation: one with its key after reads)
                beside_staged = ahead is not None and ahead.stages and ahead.key in tx.ahead
                if not beside_staged:
                    await done.store_staged()  # it may read or write what they write
                mine = Emitted(done.numbering)
                try:
                    outcome = await operation(tx, mine)
                except ServerError as refusal:
                    outcome, mine = refusal, Emitted(done.numbering)
                done.add(outcome, mine)
                if not isinstance(outcome, Staged):
                    unstaged.add(thread)
            await done.store_staged()
            outcomes, accepted = done.outcomes, done.numbering.accepted
            pending = [event.to_store() for event in accepted]
            seqs = await tx.events.store(pending, self._clock.ms(), tx.audit)
            for event, seq in zip(accepted, seqs, strict=True):
                event.seq = seq
            await tx.audit.flush()  # what the events' statement did not take: time the commit alone
            committing = time.perf_counter()
        self.commit_times.record(time.perf_counter() - committing)
        self.commits += 1
        self.operations += len(batch)
        return outcomes, accepted


class _Done:
    """The operations of a transaction that have run, in batch order: their
    outcomes, and their events accepted once their messages are stored."""

    def __init__(self, tx: WriteTx) -> None:
        self.tx = tx
        self.numbering = Numbering()
        self.outcomes: list[Any] = []
        self._waiting: list[tuple[Any, list[Outgoing]]] = []  # outcome (or Staged), events

    def add(self, outcome: Any, emitted: list[Outgoing]) -> None:
        if self._waiting or isinstance(outcome, Staged):
            self._waiting.append((outcome, emitted))
        else:  # nothing staged before it: done now (on SQLite, always)
            self.outcomes.append(outcome)
            self.numbering.accepted.extend(emitted)

    async def store_staged(self) -> None:
        """Store the messages left staged, all at once, and accept every
        waiting operation's events in batch order."""
        if not self._waiting:
            return
        staged = [outcome for outcome, _ in self._waiting if isinstance(outcome, Staged)]
        stored = iter(await self.tx.messages.append_all([each.message for each in staged]))
        for outcome, emitted in self._waiting:
            self.outcomes.append(
                outcome.then(next(stored)) if isinstance(outcome, Staged) else outcome
            )
            self.numbering.accepted.extend(emitted)
        self._waiting = []


def _reads_ahead(batch: list[_Item]) -> dict[Read, list[tuple[Any, bool]]]:
    """The reads a batch makes together, once its operations with no thread
    (which may write anywhere) have run: of each kind, every key in batch
    order, and whether the batch vouches for it: nothing written before it
    changes its thread but the staged messages of the operations before it
    in its thread. So it is its thread's first (the operations before write
    none of its rows: a thread's are written by its operations, which sort
    together), or each of those before it stages, read the same way. What
    a sender's own writes change elsewhere (their daily count), the read
    guards (``ThreadTx.read_ahead``). Alone, an operation reads for itself."""
    if len(batch) < 2:
        return {}
    reads: dict[Read, list[tuple[Any, bool]]] = {}
    chain_read: dict[int, Read | None] = {}  # each thread's, while its operations all stage
    for _, _, thread, ahead in batch:
        read = None if ahead is None else ahead.read
        vouched = chain_read.setdefault(thread, read) is read
        if ahead is None or not ahead.stages or not vouched:
            chain_read[thread] = None
        if ahead is not None and thread not in (0, LAST):
            reads.setdefault(ahead.read, []).append((ahead.key, vouched))
    return reads
