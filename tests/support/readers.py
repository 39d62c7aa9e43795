"""Writers and readers that keep count, for fault tests over several nodes.

A ``Writer`` is one socket (an SDK client) of a practitioner sending into
their thread; it records each acknowledged message (``Sent``), the sends
still unanswered, and the refused ones. Its envelopes can be sealed ahead of
time, so that the sends of several writers leave at one instant.

A ``Reader`` is one device's SDK client, drained in the background. It
records each ``message.new`` the SDK hands on (``Delivered``), the seq of
each durable event the SDK hands on, and, through ``TappedClient``, the seq
of each durable event as it came off the socket, before the SDK's cursor
check drops a repeat or a late one.

``tally`` compares a reader with what the writers had acknowledged: a
``Count`` of what never came, what came twice, and what came out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clients import CallError, Client, Credentials
from protocol.session import Duplicate, EventReceived, SessionEvent
from tests.support.server import RunningServer

__all__ = [
    "Count",
    "Delivered",
    "Reader",
    "Sent",
    "TappedClient",
    "Writer",
    "all_received",
    "last_per_thread",
    "tally",
]


@dataclass(frozen=True, slots=True)
class Sent:
    """A message its writer got an acknowledgement for."""

    message_id: int
    thread: int
    thread_seq: int
    at: float  # time.monotonic() of the acknowledgement
    duplicate: bool  # a retry found it already stored


@dataclass(frozen=True, slots=True)
class Delivered:
    """A ``message.new`` the SDK handed on to a reader."""

    message_id: int
    client_msg_id: str
    thread: int
    thread_seq: int
    seq: int
    at: float  # time.monotonic() of its arrival


class TappedClient(Client):
    """The SDK client, also noting the seq of each durable event as it comes
    off the socket, before the SDK drops one at or below its cursor."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wire_seqs: list[int] = []

    def _dispatch(self, event: SessionEvent | None) -> None:
        if isinstance(event, Duplicate):
            self.wire_seqs.append(event.seq)
        elif isinstance(event, EventReceived) and event.event.seq is not None:
            self.wire_seqs.append(event.event.seq)
        super()._dispatch(event)


class Writer:
    """A practitioner's client sending into their thread; what was acknowledged."""

    def __init__(
        self,
        client: Client,
        sealer: RunningServer,
        credentials: Credentials,
        thread: int,
        members: list[int],
    ) -> None:
        self.client = client
        self.thread = thread
        self.sent: list[Sent] = []
        self.unanswered: set[str] = set()  # client_msg_ids of the sends in flight
        self.refused: list[str] = []  # the error codes of the sends refused
        self._sealer = sealer
        self._credentials = credentials
        self._members = members
        self._acknowledged = asyncio.Condition()

    def seal(self, text: str) -> tuple[bytes, str]:
        """An envelope for every device of the thread's members, and its client_msg_id."""
        sealed = self._sealer.envelope(self._credentials, self.thread, self._members, text)
        return sealed.data, sealed.msg_id.hex()

    async def send_sealed(self, envelope: bytes, client_msg_id: str) -> Sent | None:
        """The acknowledged message, or None if the server refused it (not stored)."""
        self.unanswered.add(client_msg_id)
        try:
            result = await self.client.send(self.thread, envelope, client_msg_id=client_msg_id)
        except CallError as refusal:
            self.refused.append(str(refusal.code))
            return None
        finally:
            self.unanswered.discard(client_msg_id)
        sent = Sent(
            result.message_id, self.thread, result.thread_seq, time.monotonic(), result.duplicate
        )
        self.sent.append(sent)
        async with self._acknowledged:
            self._acknowledged.notify_all()
        return sent

    async def send(self, text: str) -> Sent | None:
        return await self.send_sealed(*self.seal(text))

    async def acknowledged(self, count: int) -> None:
        """Wait until ``count`` of this writer's messages are acknowledged."""
        async with self._acknowledged:
            await self._acknowledged.wait_for(lambda: len(self.sent) >= count)


class Reader:
    """One device's client, drained in the background from the moment it is made."""

    def __init__(self, name: str, client: TappedClient, threads: Iterable[int]) -> None:
        self.name = name
        self.client = client
        self.threads = set(threads)
        self.messages: list[Delivered] = []
        self.seqs: list[int] = []  # every durable event handed on, in arrival order
        self.failure: BaseException | None = None  # the SDK gave up
        # Told of each message the moment the reader takes it from the SDK.
        self.on_message: Callable[[Delivered], None] | None = None
        self._newest: dict[int, int] = {}  # thread -> highest thread_seq handed on
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._drain(), name=f"reader-{name}")

    async def _drain(self) -> None:
        try:
            async for event in self.client.events():
                self._note(event.type, event.data, event.seq)
                async with self._changed:
                    self._changed.notify_all()
        except Exception as failure:
            self.failure = failure
            async with self._changed:
                self._changed.notify_all()

    def _note(self, kind: str, data: Any, seq: int | None) -> None:
        if seq is None:
            return  # ephemeral (presence, typing, notify): no stream position
        self.seqs.append(seq)
        if kind != "message.new" or data.thread not in self.threads:
            return
        message = Delivered(
            data.id, data.client_msg_id, data.thread, data.thread_seq, seq, time.monotonic()
        )
        self.messages.append(message)
        self._newest[data.thread] = max(self._newest.get(data.thread, 0), data.thread_seq)
        if self.on_message is not None:
            self.on_message(message)

    async def reached(self, last: dict[int, int]) -> None:
        """Wait until, in each of its threads, the message ``last`` names
        (by thread_seq) or a later one has arrived, or the client gave up."""

        def done() -> bool:
            return self.failure is not None or all(
                self._newest.get(thread, 0) >= thread_seq
                for thread, thread_seq in last.items()
                if thread in self.threads
            )

        async with self._changed:
            await self._changed.wait_for(done)

    async def stop(self) -> None:
        """Stop draining (before the client closes: closing is no failure)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def last_per_thread(sent: Iterable[Sent]) -> dict[int, int]:
    """The highest acknowledged thread_seq of each thread."""
    last: dict[int, int] = {}
    for message in sent:
        last[message.thread] = max(last.get(message.thread, 0), message.thread_seq)
    return last


async def all_received(readers: Sequence[Reader], sent: Sequence[Sent], within: float) -> bool:
    """Wait until every reader has the last acknowledged message of each of
    its threads (then any earlier one missing is lost, or would come out of
    order), or until ``within`` seconds have passed: whether they all had it."""
    last = last_per_thread(sent)
    try:
        async with asyncio.timeout(within):
            await asyncio.gather(*(reader.reached(last) for reader in readers))
    except TimeoutError:
        return False
    return True


@dataclass
class Count:
    """One reader's account of the acknowledged messages of its threads."""

    reader: str
    expected: int  # acknowledged messages of the reader's threads
    received: int  # message.new events handed on
    lost: int  # acknowledged, never handed on
    duplicates: int  # handed on more than once
    dropped_by_sdk: int  # durable events at or below the SDK's cursor (stats.duplicates_dropped)
    repeated_on_wire: int  # a durable event's seq the socket had already brought
    late_on_wire: int  # a seq below one the socket had already brought (and new)
    unreadable: int  # handed on as ``unreadable``: the SDK could not decode it (stats.unreadable)
    out_of_order: int  # a seq handed on not above the previous, or a thread_seq in its thread
    unexpected: int  # handed on, never acknowledged (a send whose answer was lost): no fault
    failure: str = ""  # the SDK gave up
    lost_ids: list[int] = field(default_factory=list)

    @property
    def faults(self) -> int:
        return (
            self.lost
            + self.duplicates
            + self.dropped_by_sdk
            + self.repeated_on_wire
            + self.late_on_wire
            + self.unreadable
            + self.out_of_order
            + bool(self.failure)
        )

    def line(self) -> str:
        text = (
            f"{self.reader}: expected {self.expected}, received {self.received},"
            f" lost {self.lost}, duplicates {self.duplicates},"
            f" dropped by the SDK {self.dropped_by_sdk},"
            f" on the wire: repeated {self.repeated_on_wire}, late {self.late_on_wire},"
            f" unreadable {self.unreadable},"
            f" out of order {self.out_of_order}, unexpected {self.unexpected}"
        )
        if self.lost_ids:
            text += f", lost ids {self.lost_ids[:10]}{'...' if self.lost > 10 else ''}"
        return text + (f", failed: {self.failure}" if self.failure else "")


def tally(reader: Reader, sent: Iterable[Sent]) -> Count:
    """Compare what ``reader`` was handed with the acknowledged ``sent``."""
    expected = {message.message_id for message in sent if message.thread in reader.threads}
    received = [message.message_id for message in reader.messages]
    lost = sorted(expected - set(received))
    repeated, late = _wire_faults(reader.client.wire_seqs)
    return Count(
        reader=reader.name,
        expected=len(expected),
        received=len(received),
        lost=len(lost),
        duplicates=len(received) - len(set(received)),
        dropped_by_sdk=reader.client.stats.duplicates_dropped,
        repeated_on_wire=repeated,
        late_on_wire=late,
        unreadable=reader.client.stats.unreadable,
        out_of_order=_not_increasing(reader.seqs) + _thread_order_faults(reader.messages),
        unexpected=len(set(received) - expected),
        failure=repr(reader.failure) if reader.failure is not None else "",
        lost_ids=lost,
    )


def _wire_faults(seqs: Iterable[int]) -> tuple[int, int]:
    """How many seqs came again, and how many came after a higher one."""
    seen: set[int] = set()
    highest = 0
    repeated = late = 0
    for seq in seqs:
        if seq in seen:
            repeated += 1
        elif seq < highest:
            late += 1
        seen.add(seq)
        highest = max(highest, seq)
    return repeated, late


def _not_increasing(values: Sequence[int]) -> int:
    return sum(later <= earlier for earlier, later in itertools.pairwise(values))


def _thread_order_faults(messages: Iterable[Delivered]) -> int:
    by_thread: dict[int, list[int]] = {}
    for message in messages:
        by_thread.setdefault(message.thread, []).append(message.thread_seq)
    return sum(_not_increasing(seqs) for seqs in by_thread.values())
