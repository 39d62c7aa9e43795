"""The per-connection send queue: byte budget, held durable events, pacing,
and the writer that runs only while there is something to write."""

from __future__ import annotations

import asyncio
import functools

import pytest

from protocol.codec import encode
from protocol.errors import CloseCode
from protocol.model import Role
from server.connection import Connection, Flag, Stage
from server.ratelimit import Limit
from server.socket import _start_writer


def make(queue_bytes: int = 100) -> Connection:
    return Connection(
        session="s",
        user_id=1,
        device_id=2,
        role=Role.PATIENT,
        queue_bytes=queue_bytes,
        calls=("calls:1", Limit(10, 10)),
        sends=("sends:1", Limit(10, 10)),
    )


def drain(conn: Connection) -> list[bytes]:
    """Take what is queued and report it written, as a writer does."""
    frames = conn.take_frames()
    for frame in frames:
        conn.sent(len(frame))
    return frames


class Writer:
    """The socket's side: each start runs a task that writes until the queue
    is empty, as ``server.socket`` does, into ``written``."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.written: list[bytes] = []
        self.starts = 0
        conn.write_with(self.start)

    def start(self) -> asyncio.Task[None]:
        self.starts += 1
        return asyncio.create_task(self.write())

    async def write(self) -> None:
        while frames := self.conn.take_frames():
            for frame in frames:
                await asyncio.sleep(0)  # a write that yields, as a socket's may
                self.written.append(frame)
                self.conn.sent(len(frame))

    async def idle(self) -> list[bytes]:
        """Wait for the running writer (if any) to stop; what it wrote."""
        if self.conn.writer is not None:
            await asyncio.wait_for(self.conn.writer, 1)
        return self.written


async def test_frames_come_out_in_order() -> None:
    conn = make()
    for frame in (b"a", b"bb", b"ccc"):
        conn.send(frame)
    assert drain(conn) == [b"a", b"bb", b"ccc"]
    conn.send(b"d")
    assert drain(conn) == [b"d"]


async def test_queue_may_fill_exactly_to_its_budget() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 6)
    conn.send(b"y" * 4)
    assert not conn.closing
    assert drain(conn) == [b"x" * 6, b"y" * 4]


async def test_overflow_closes_with_slow_consumer_and_clears_frames() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 6)
    conn.send(b"y" * 5)
    assert conn.closing
    assert conn.close_code == CloseCode.SLOW_CONSUMER
    assert conn.close_reason
    assert conn.take_frames() == []
    await asyncio.wait_for(conn.wait_closed(), 1)
    conn.send(b"z")  # ignored once closing
    assert conn.take_frames() == []


async def test_frames_taken_but_not_written_still_count() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 8)
    assert len(conn.take_frames()) == 1
    conn.send(b"y" * 3)
    assert conn.close_code == CloseCode.SLOW_CONSUMER

    conn = make(queue_bytes=10)
    conn.send(b"x" * 8)
    drain(conn)
    conn.send(b"y" * 10)
    assert not conn.closing


async def test_single_frame_over_budget_closes() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 11)
    assert conn.close_code == CloseCode.SLOW_CONSUMER


async def test_an_idle_link_holds_no_writer_and_a_frame_starts_one() -> None:
    conn = make()
    conn.send(b"before")  # the socket is not open yet: held
    assert conn.writer is None
    writer = Writer(conn)
    assert writer.starts == 1
    await asyncio.sleep(0)  # the writer takes "before" and is inside its write
    assert writer.written == [] and conn.writer is not None
    conn.send(b"while writing")  # the running writer takes it next
    assert await writer.idle() == [b"before", b"while writing"]
    assert conn.writer is None and writer.starts == 1
    conn.send(b"later")
    assert await writer.idle() == [b"before", b"while writing", b"later"]
    assert writer.starts == 2


async def test_close_stops_the_writer_with_what_it_has_not_taken() -> None:
    conn = make()
    writer = Writer(conn)
    conn.send(b"first")
    conn.close(CloseCode.SERVER_SHUTDOWN, "bye")
    assert await writer.idle() == []
    assert conn.close_code == CloseCode.SERVER_SHUTDOWN


async def test_first_close_wins() -> None:
    conn = make()
    conn.send(b"queued")
    conn.close(CloseCode.HEARTBEAT_TIMEOUT, "silent")
    conn.close(CloseCode.NORMAL, "later")
    assert (conn.close_code, conn.close_reason) == (CloseCode.HEARTBEAT_TIMEOUT, "silent")
    assert conn.take_frames() == []


def frame(seq: int) -> bytes:
    return f"e{seq}".encode()


@pytest.mark.parametrize(
    ("backlog_until", "held", "expected"),
    [
        (0, [3, 1, 2], [1, 2, 3]),
        (0, [2, 2, 1, 1], [1, 2]),
        (2, [1, 2, 3, 4], [3, 4]),
        (5, [5, 4], []),
        (0, [], []),
        (3, [7, 3, 5], [5, 7]),
    ],
)
async def test_events_are_held_until_live(
    backlog_until: int, held: list[int], expected: list[int]
) -> None:
    conn = make()
    for seq in held:
        conn.push_event(seq, frame(seq))
    conn.send(b"backlog")  # the replay goes straight to the queue
    conn.last_seq = backlog_until
    assert drain(conn) == [b"backlog"]
    conn.go_live()
    conn.send(b"end")
    assert drain(conn) == [*(frame(seq) for seq in expected), b"end"]
    assert conn.last_seq == max([backlog_until, *held])


@pytest.mark.parametrize(
    ("last_seq", "pushed", "expected"),
    [
        (0, [1, 2, 3], [1, 2, 3]),
        (0, [1, 1, 2], [1, 2]),
        (0, [3, 2, 4], [3, 4]),
        (5, [5], []),
        (5, [4, 6, 6], [6]),
    ],
)
async def test_live_events_drop_what_was_already_sent(
    last_seq: int, pushed: list[int], expected: list[int]
) -> None:
    conn = make()
    conn.last_seq = last_seq
    conn.go_live()
    for seq in pushed:
        conn.push_event(seq, frame(seq))
    conn.send(b"end")
    assert drain(conn) == [*(frame(seq) for seq in expected), b"end"]
    assert conn.last_seq == max(last_seq, *pushed)


async def test_go_live_twice_is_harmless() -> None:
    conn = make()
    conn.push_event(1, frame(1))
    conn.go_live()
    conn.go_live()
    conn.push_event(2, frame(2))
    assert drain(conn) == [frame(1), frame(2)]


async def test_held_events_obey_the_byte_budget() -> None:
    conn = make(queue_bytes=5)
    for seq in range(1, 5):
        conn.push_event(seq, b"x" * 2)
    assert not conn.closing
    conn.go_live()
    assert conn.close_code == CloseCode.SLOW_CONSUMER


async def test_send_paced_waits_for_room() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 8)
    paced = asyncio.create_task(conn.send_paced(b"y" * 5))
    await asyncio.sleep(0)
    assert not paced.done()
    [taken] = conn.take_frames()
    await asyncio.sleep(0)
    assert not paced.done()  # taken is not written: still no room
    conn.sent(len(taken))
    await asyncio.wait_for(paced, 1)
    assert not conn.closing
    assert drain(conn) == [b"y" * 5]


async def test_send_paced_without_waiting_when_there_is_room() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 4)
    await asyncio.wait_for(conn.send_paced(b"y" * 6), 1)
    assert drain(conn) == [b"x" * 4, b"y" * 6]


async def test_send_paced_several_frames_in_order() -> None:
    conn = make(queue_bytes=4)
    frames = [bytes([i]) * 3 for i in range(5)]

    async def produce() -> None:
        for f in frames:
            await conn.send_paced(f)

    producer = asyncio.create_task(produce())
    written: list[bytes] = []
    while len(written) < len(frames):
        written += drain(conn)
        await asyncio.sleep(0)  # the producer's turn
    await asyncio.wait_for(producer, 1)
    assert written == frames
    assert not conn.closing


async def test_send_paced_returns_when_closed() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 8)
    paced = asyncio.create_task(conn.send_paced(b"y" * 5))
    await asyncio.sleep(0)
    conn.close(CloseCode.SERVER_SHUTDOWN)
    await asyncio.wait_for(paced, 1)
    assert conn.take_frames() == []


async def test_ephemeral_pushes_before_the_welcome_are_dropped() -> None:
    conn = make()
    conn.push(b"presence-early")
    conn.push_event(1, frame(1))  # durable: held, not dropped
    conn.welcome(b"welcome")
    conn.push(b"presence-late")
    conn.go_live()
    assert drain(conn) == [b"welcome"]  # alone: it tells how the next frames come
    assert drain(conn) == [b"presence-late", frame(1)]


async def test_the_welcome_is_taken_alone_once() -> None:
    conn = make()
    conn.welcome(b"welcome")
    conn.push(b"a")
    conn.push(b"b")
    assert drain(conn) == [b"welcome"]
    assert drain(conn) == [b"a", b"b"]
    conn.push(b"c")
    conn.push(b"d")
    assert drain(conn) == [b"c", b"d"]


class RecordingSocket:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def send(self, message: bytes) -> None:
        await asyncio.sleep(0)
        self.messages.append(message)


async def test_the_sockets_writer_packs_what_it_takes_and_frees_its_bytes() -> None:
    conn = make(queue_bytes=100)
    conn.batch_bytes = 1024
    ws = RecordingSocket()
    conn.welcome(b"W" * 10)
    for payload in (b"a", b"b", b"c"):
        conn.push(encode(payload))
    conn.write_with(functools.partial(_start_writer, ws, conn))  # type: ignore[arg-type]
    await asyncio.wait_for(conn.writer, 1)  # type: ignore[arg-type]
    assert ws.messages == [b"W" * 10, b"\x93" + encode(b"a") + encode(b"b") + encode(b"c")]
    conn.send(b"x" * 100)  # every byte written is free again
    assert not conn.closing


async def test_a_graceful_finish_waits_for_the_call_being_answered() -> None:
    conn = make()
    writer = Writer(conn)
    conn.busy = True
    conn.finish(CloseCode.SERVER_SHUTDOWN, "bye")
    assert conn.finishing and not conn.closing  # a call is still being answered
    conn.send(b"result")
    conn.answered()
    assert not conn.closing  # the answer is being written
    assert await writer.idle() == [b"result"]  # the answer goes out first
    assert conn.close_code == CloseCode.SERVER_SHUTDOWN  # then the socket closes


async def test_a_finish_waits_for_what_is_queued() -> None:
    conn = make()
    writer = Writer(conn)
    conn.send(b"queued")
    conn.finish(CloseCode.SERVER_SHUTDOWN)
    assert not conn.closing
    assert await writer.idle() == [b"queued"]  # what was queued is still sent
    assert conn.close_code == CloseCode.SERVER_SHUTDOWN


async def test_an_idle_connection_finishes_at_once() -> None:
    conn = make()
    Writer(conn)
    conn.finish(CloseCode.SERVER_SHUTDOWN)
    assert conn.close_code == CloseCode.SERVER_SHUTDOWN


async def test_a_finish_before_the_socket_is_open_sends_the_welcome_first() -> None:
    conn = make()
    conn.finish(CloseCode.SERVER_SHUTDOWN)  # the drain began during the hello
    conn.welcome(b"welcome")
    assert not conn.closing
    assert await Writer(conn).idle() == [b"welcome"]
    assert conn.close_code == CloseCode.SERVER_SHUTDOWN


async def test_a_connection_moves_through_its_stages_forward_only() -> None:
    conn = make()
    assert conn.stage is Stage.WELCOMING and not conn.welcomed and not conn.live
    conn.welcome(b"welcome")
    assert conn.stage is Stage.REPLAYING and conn.welcomed and not conn.live
    conn.go_live()
    assert conn.stage is Stage.LIVE and conn.welcomed and conn.live
    with pytest.raises(RuntimeError, match="from LIVE to REPLAYING"):
        conn.welcome(b"again")
    conn.close(CloseCode.NORMAL)
    assert conn.stage is Stage.CLOSING and conn.closing


async def test_once_closing_nothing_moves_it_and_nothing_is_held() -> None:
    conn = make()
    conn.close(CloseCode.ACCESS_CHANGED, "reconnect")
    conn.welcome(b"welcome")  # the close won the race with the welcome
    conn.push_event(1, frame(1))
    conn.go_live()
    assert conn.stage is Stage.CLOSING
    assert conn._held == []
    assert conn.take_frames() == []


async def test_a_flag_wakes_its_waiters_and_a_cancelled_one_leaves_the_others() -> None:
    flag = Flag()
    first, second = (asyncio.create_task(flag.wait()) for _ in range(2))
    await asyncio.sleep(0)  # both waiting on the one future
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    assert not second.done()
    flag.set()
    await asyncio.wait_for(second, 1)
    assert flag.future().done()  # once set, a new waiter does not wait
    flag.clear()
    assert not flag.future().done()
