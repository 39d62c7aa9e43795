"""The per-connection send queue: byte budget, held durable events, pacing."""

from __future__ import annotations

import asyncio

import pytest

from protocol.errors import CloseCode
from protocol.model import Role
from server.connection import Connection, Flag, Stage
from server.ratelimit import Limit


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


async def drain(conn: Connection) -> list[bytes]:
    """Take what is queued and report it written."""
    frames = await asyncio.wait_for(conn.next_frames(), 1)
    for frame in frames:
        conn.sent(frame)
    return frames


async def test_frames_come_out_in_order() -> None:
    conn = make()
    for frame in (b"a", b"bb", b"ccc"):
        conn.send(frame)
    assert await drain(conn) == [b"a", b"bb", b"ccc"]
    conn.send(b"d")
    assert await drain(conn) == [b"d"]


async def test_queue_may_fill_exactly_to_its_budget() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 6)
    conn.send(b"y" * 4)
    assert not conn.closing
    assert await drain(conn) == [b"x" * 6, b"y" * 4]


async def test_overflow_closes_with_slow_consumer_and_clears_frames() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 6)
    conn.send(b"y" * 5)
    assert conn.closing
    assert conn.close_code == CloseCode.SLOW_CONSUMER
    assert conn.close_reason
    assert await asyncio.wait_for(conn.next_frames(), 1) == []
    await asyncio.wait_for(conn.wait_closed(), 1)
    conn.send(b"z")  # ignored once closing
    assert await asyncio.wait_for(conn.next_frames(), 1) == []


async def test_frames_taken_but_not_written_still_count() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 8)
    assert len(await asyncio.wait_for(conn.next_frames(), 1)) == 1
    conn.send(b"y" * 3)
    assert conn.close_code == CloseCode.SLOW_CONSUMER

    conn = make(queue_bytes=10)
    conn.send(b"x" * 8)
    await drain(conn)
    conn.send(b"y" * 10)
    assert not conn.closing


async def test_single_frame_over_budget_closes() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 11)
    assert conn.close_code == CloseCode.SLOW_CONSUMER


async def test_next_frames_waits_for_a_frame() -> None:
    conn = make()
    waiting = asyncio.create_task(conn.next_frames())
    await asyncio.sleep(0)
    assert not waiting.done()
    conn.send(b"late")
    assert await asyncio.wait_for(waiting, 1) == [b"late"]


async def test_close_wakes_a_waiting_reader() -> None:
    conn = make()
    waiting = asyncio.create_task(conn.next_frames())
    await asyncio.sleep(0)
    conn.close(CloseCode.SERVER_SHUTDOWN, "bye")
    assert await asyncio.wait_for(waiting, 1) == []
    assert conn.close_code == CloseCode.SERVER_SHUTDOWN


async def test_first_close_wins() -> None:
    conn = make()
    conn.send(b"queued")
    conn.close(CloseCode.HEARTBEAT_TIMEOUT, "silent")
    conn.close(CloseCode.NORMAL, "later")
    assert (conn.close_code, conn.close_reason) == (CloseCode.HEARTBEAT_TIMEOUT, "silent")
    assert await asyncio.wait_for(conn.next_frames(), 1) == []


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
    assert await drain(conn) == [b"backlog"]
    conn.go_live()
    conn.send(b"end")
    assert await drain(conn) == [*(frame(seq) for seq in expected), b"end"]
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
    assert await drain(conn) == [*(frame(seq) for seq in expected), b"end"]
    assert conn.last_seq == max(last_seq, *pushed)


async def test_go_live_twice_is_harmless() -> None:
    conn = make()
    conn.push_event(1, frame(1))
    conn.go_live()
    conn.go_live()
    conn.push_event(2, frame(2))
    assert await drain(conn) == [frame(1), frame(2)]


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
    [taken] = await asyncio.wait_for(conn.next_frames(), 1)
    await asyncio.sleep(0)
    assert not paced.done()  # taken is not written: still no room
    conn.sent(taken)
    await asyncio.wait_for(paced, 1)
    assert not conn.closing
    assert await drain(conn) == [b"y" * 5]


async def test_send_paced_without_waiting_when_there_is_room() -> None:
    conn = make(queue_bytes=10)
    conn.send(b"x" * 4)
    await asyncio.wait_for(conn.send_paced(b"y" * 6), 1)
    assert await drain(conn) == [b"x" * 4, b"y" * 6]


async def test_send_paced_several_frames_in_order() -> None:
    conn = make(queue_bytes=4)
    frames = [bytes([i]) * 3 for i in range(5)]

    async def produce() -> None:
        for f in frames:
            await conn.send_paced(f)

    producer = asyncio.create_task(produce())
    written: list[bytes] = []
    while len(written) < len(frames):
        written += await drain(conn)
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
    assert await asyncio.wait_for(conn.next_frames(), 1) == []


async def test_ephemeral_pushes_before_the_welcome_are_dropped() -> None:
    conn = make()
    conn.push(b"presence-early")
    conn.push_event(1, frame(1))  # durable: held, not dropped
    conn.welcome(b"welcome")
    conn.push(b"presence-late")
    conn.go_live()
    assert await drain(conn) == [b"welcome", b"presence-late", frame(1)]


async def test_a_graceful_finish_waits_for_the_call_being_answered() -> None:
    conn = make()
    conn.busy = True
    conn.finish(CloseCode.SERVER_SHUTDOWN, "bye")
    assert conn.finishing and not conn.closing
    writer = asyncio.create_task(conn.next_frames())
    await asyncio.sleep(0)  # the writer waits: a call is still being answered
    assert not writer.done()
    conn.send(b"result")
    conn.answered()
    assert await writer == [b"result"]  # the answer goes out first
    conn.sent(b"result")
    assert await drain(conn) == []  # then the socket closes
    assert conn.close_code == CloseCode.SERVER_SHUTDOWN


async def test_an_idle_connection_finishes_at_once() -> None:
    conn = make()
    conn.send(b"queued")
    conn.finish(CloseCode.SERVER_SHUTDOWN)
    assert await drain(conn) == [b"queued"]  # what was queued is still sent
    assert await drain(conn) == []
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
    assert await asyncio.wait_for(conn.next_frames(), 1) == []


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
