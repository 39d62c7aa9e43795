"""A connection's calls in flight (``server.calls``): a pipelined call
starts at once and is let go once its writes are queued, answers leave in
the order the calls came, any other call waits for the earlier ones,
in-flight calls are bounded, and a graceful finish waits for every answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import Any

from protocol.errors import CloseCode
from server.calls import PIPELINED_CALLS, Calls, queued
from server.connection import Connection
from tests.unit.test_connection import Writer, drain, make


async def gated(gate: asyncio.Future[None], answer: bytes, *, queues: bool = True) -> bytes:
    """A call that queues a write (or not), then answers once ``gate`` opens."""
    if queues:
        queued()
    await gate
    return answer


def gates(count: int) -> list[asyncio.Future[None]]:
    loop = asyncio.get_running_loop()
    return [loop.create_future() for _ in range(count)]


def no_failure(conn: Connection, exc: Exception) -> None:
    raise AssertionError(f"a call failed: {exc!r}")


Gate = asyncio.Future[None]


def recording(hurried: list[str]) -> Callable[[], AbstractContextManager[None]]:
    """A writer's ``hurried`` that notes when it is entered and left."""

    @contextmanager
    def hurrying() -> Iterator[None]:
        hurried.append("from")
        try:
            yield
        finally:
            hurried.append("until")

    return hurrying


async def two_in_flight(conn: Connection) -> tuple[Calls, Gate, Gate]:
    """Two pipelined calls let go, answering b"a" and b"b" once their gates open."""
    calls = Calls(conn, no_failure)
    first, second = gates(2)
    await calls.take(partial(gated, first, b"a"), pipelined=True)
    await calls.take(partial(gated, second, b"b"), pipelined=True)
    return calls, first, second


async def read_behind_a_write(calls: Calls) -> tuple[Gate, list[str], asyncio.Task[None]]:
    """A pipelined write answering b"write" once its gate opens, and a read
    taken behind it (not pipelined): the gate, whether the read began, and
    the reader's task taking it."""
    (gate,) = gates(1)
    began: list[str] = []

    async def read() -> bytes:
        began.append("read")
        return b"read"

    await calls.take(partial(gated, gate, b"write"), pipelined=True)
    reading = asyncio.create_task(calls.take(read, pipelined=False))
    await asyncio.sleep(0)
    return gate, began, reading


async def test_pipelined_calls_are_let_go_once_queued_and_answered_in_order() -> None:
    conn = make()
    calls, first, second = await two_in_flight(conn)  # each let go once its write is queued
    second.set_result(None)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert drain(conn) == []  # answered, but behind the first call
    first.set_result(None)
    await calls.settled()
    assert drain(conn) == [b"a", b"b"]
    assert not conn.busy


async def test_a_pipelined_call_queues_its_writes_before_the_loop_runs_anything_else() -> None:
    """It starts in the reader's step: under load, a task's first step would
    wait out a whole loop iteration, behind everything read meanwhile."""
    calls = Calls(make(), no_failure)
    (gate,) = gates(1)
    elsewhere: list[str] = []
    asyncio.get_running_loop().call_soon(elsewhere.append, "ran")
    await calls.take(partial(gated, gate, b"a"), pipelined=True)
    assert elsewhere == []  # let go (its write queued) within this step
    (running,) = calls.running()  # the rest waits for its gate in a task
    gate.set_result(None)
    await calls.settled()
    assert running.done() and elsewhere == ["ran"]


async def test_a_pipelined_call_that_queues_nothing_is_let_go_once_answered() -> None:
    conn = make()
    calls = Calls(conn, no_failure)
    (gate,) = gates(1)
    answer = partial(gated, gate, b"a", queues=False)
    taking = asyncio.create_task(calls.take(answer, pipelined=True))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not taking.done()
    gate.set_result(None)
    await taking
    assert drain(conn) == [b"a"]


async def test_a_call_not_pipelined_waits_for_every_earlier_answer() -> None:
    conn = make()
    gate, began, reading = await read_behind_a_write(Calls(conn, no_failure))
    await asyncio.sleep(0)
    assert began == []  # it would not see the write
    gate.set_result(None)
    await reading
    assert began == ["read"]
    assert drain(conn) == [b"write", b"read"]


async def test_a_call_waits_for_earlier_ones_hurried() -> None:
    """Their writes may be waiting for company (a receipt): the call would
    wait that long too. A call with nothing before it hurries nothing."""
    hurried: list[str] = []
    conn = make()
    calls = Calls(conn, no_failure, recording(hurried))

    async def read() -> bytes:
        return b"read"

    await calls.take(read, pipelined=False)
    assert hurried == []
    gate, _, reading = await read_behind_a_write(calls)
    assert hurried == ["from"]
    gate.set_result(None)
    await reading
    assert hurried == ["from", "until"]
    assert drain(conn) == [b"read", b"write", b"read"]


async def test_calls_in_flight_are_bounded() -> None:
    """One past the bound waits for room, hurried (as any call waiting for earlier ones)."""
    hurried: list[str] = []
    conn = make(queue_bytes=10_000)
    calls = Calls(conn, no_failure, recording(hurried))
    opened = gates(PIPELINED_CALLS + 1)
    for gate in opened[:-1]:
        await calls.take(partial(gated, gate, b"x"), pipelined=True)
    made: list[bytes] = []

    def seventeenth() -> Coroutine[Any, Any, bytes]:
        made.append(b"y")
        return gated(opened[-1], b"y")

    one_more = asyncio.create_task(calls.take(seventeenth, pipelined=True))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert made == [] and len(calls.running()) == PIPELINED_CALLS  # not begun: no room
    assert hurried == ["from"]
    opened[0].set_result(None)
    await one_more  # the first is answered: room for one more
    assert made == [b"y"] and hurried == ["from", "until"]
    for gate in opened[1:]:
        gate.set_result(None)
    await calls.settled()
    assert drain(conn) == [b"x"] * PIPELINED_CALLS + [b"y"]


async def test_a_failed_call_is_reported_and_the_answers_behind_it_still_go_out() -> None:
    conn = make()
    failures: list[Exception] = []
    calls = Calls(conn, lambda _, exc: failures.append(exc))
    broken, fine = gates(2)
    await calls.take(partial(gated, broken, b"never"), pipelined=True)
    await calls.take(partial(gated, fine, b"b"), pipelined=True)
    broken.set_exception(RuntimeError("store gone"))
    fine.set_result(None)
    await calls.settled()
    assert [str(exc) for exc in failures] == ["store gone"]
    assert drain(conn) == [b"b"]


async def test_a_graceful_finish_waits_for_every_pipelined_answer() -> None:
    conn = make()
    writer = Writer(conn)
    calls, first, second = await two_in_flight(conn)
    conn.finish(CloseCode.SERVER_SHUTDOWN)
    first.set_result(None)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not conn.closing  # the second call is still being answered
    second.set_result(None)
    await calls.settled()
    assert await writer.idle() == [b"a", b"b"]
    assert conn.close_code == CloseCode.SERVER_SHUTDOWN


async def test_running_calls_are_listed_for_the_socket_to_wait_for() -> None:
    conn = make()
    calls = Calls(conn, no_failure)
    (gate,) = gates(1)
    await calls.take(partial(gated, gate, b"a"), pipelined=True)
    (running,) = calls.running()
    running.cancel()
    await calls.settled()  # a cancelled call leaves no answer, and holds none back
    assert calls.running() == []
    assert drain(conn) == []


def test_queued_outside_a_call_does_nothing() -> None:
    queued()


async def test_a_finish_waits_for_a_call_read_behind_pipelined_ones() -> None:
    conn = make()
    writer = Writer(conn)
    gate, _, reading = await read_behind_a_write(Calls(conn, no_failure))
    conn.finish(CloseCode.SERVER_SHUTDOWN)
    gate.set_result(None)
    await reading  # read before the finish: answered, not dropped
    assert await writer.idle() == [b"write", b"read"]
    assert conn.close_code == CloseCode.SERVER_SHUTDOWN


async def test_a_call_taken_once_closing_is_dropped_unanswered() -> None:
    conn = make()
    calls = Calls(conn, no_failure)
    gate, began, reading = await read_behind_a_write(calls)
    conn.close(CloseCode.SERVER_ERROR)  # as a failed call or a slow consumer does
    gate.set_result(None)
    await reading
    await calls.settled()
    assert began == []  # never begun: its coroutine was not even made
    assert drain(conn) == []


async def test_a_reader_cancelled_while_waiting_leaves_no_call_behind() -> None:
    conn = make()
    calls = Calls(conn, no_failure)
    gate, began, waiting = await read_behind_a_write(calls)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    gate.set_result(None)
    await calls.settled()
    assert began == []
    assert drain(conn) == [b"write"]
    assert not conn.busy


async def test_a_call_whose_write_is_cancelled_under_it_closes_the_connection() -> None:
    conn = make()
    calls = Calls(conn, no_failure)
    (stored,) = gates(1)
    await calls.take(partial(gated, stored, b"never"), pipelined=True)
    stored.cancel()  # as receipt writes do to their callers when the node stops
    await calls.settled()
    assert conn.close_code == CloseCode.NORMAL


async def test_calls_left_when_the_socket_ends_finish_or_are_cancelled_in_time() -> None:
    conn = make()
    calls, committed, _ = await two_in_flight(conn)  # the second's gate never opens
    finishing, stalled = calls.running()
    conn.close(CloseCode.NORMAL)
    committed.set_result(None)  # the first commits; the second's writer never answers
    await calls.let_finish(0.05)
    assert finishing.done() and not finishing.cancelled()
    assert stalled.cancelled()
    assert drain(conn) == []  # closed: the answers are dropped


async def test_a_call_not_yet_queued_when_the_reader_goes_is_cancelled() -> None:
    conn = make()
    calls = Calls(conn, no_failure)
    (gate,) = gates(1)
    taking = asyncio.create_task(
        calls.take(partial(gated, gate, b"a", queues=False), pipelined=True)
    )
    await asyncio.sleep(0)
    (running,) = calls.running()
    taking.cancel()
    await asyncio.gather(taking, return_exceptions=True)
    await asyncio.gather(running, return_exceptions=True)
    assert running.cancelled()
