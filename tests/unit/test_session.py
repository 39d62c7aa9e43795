"""The sans-I/O sessions, fed bytes: no socket, no event loop."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from protocol.codec import (
    PACKED_BYTES,
    BrokenError,
    BrokenEvent,
    encode,
    encode_event,
    messages,
    to_raw,
)
from protocol.errors import CloseCode, ErrorCode
from protocol.events import SyncReset
from protocol.frames import Call, Error, Hello, Ping, Pong, Result
from protocol.session import (
    CallReceived,
    ClientSession,
    Duplicate,
    EventReceived,
    FrameRefused,
    Greeted,
    InvalidState,
    PingReceived,
    PongReceived,
    Refused,
    ReplyReceived,
    ServerSession,
    State,
    Welcomed,
)
from tests.support.wire import welcome

HELLO = encode(Hello(versions=[1], token="t", device=7))


def greeted() -> ServerSession:
    session = ServerSession(max_frame_bytes=1024)
    assert isinstance(session.receive_hello(HELLO), Greeted)
    return session


def welcomed(resume_from: int | None = None, cursor: int = 10) -> ClientSession:
    session = ClientSession("t", 7, resume_from=resume_from)
    session.data_to_send()
    [event] = session.receive(welcome(cursor))
    assert isinstance(event, Welcomed)
    return session


def decoded(data: bytes) -> Any:
    return msgspec.msgpack.decode(data)


# The server's end.


def test_a_good_hello_opens_the_session() -> None:
    session = ServerSession(max_frame_bytes=1024)
    assert session.state is State.AWAITING_HELLO
    event = session.receive_hello(encode(Hello(versions=[0, 1], token="t", device=7)))
    assert event == Greeted(Hello(versions=[0, 1], token="t", device=7), version=1)
    assert session.state is State.OPEN


@pytest.mark.parametrize(
    ("data", "code", "reason"),
    [
        (None, CloseCode.BAD_HELLO, "frames are binary MessagePack"),
        (b"\xc1", CloseCode.BAD_HELLO, "unreadable hello: "),
        (encode({"t": "hello", "versions": [1]}), CloseCode.BAD_HELLO, "unreadable hello: "),
        (encode(Ping()), CloseCode.BAD_HELLO, "the first frame must be hello"),
        (encode(Call(1, "threads.list")), CloseCode.BAD_HELLO, "the first frame must be hello"),
        (encode(Hello([9], "t", 7)), CloseCode.UNSUPPORTED_VERSION, "no common protocol version"),
        (b"\x80" * 2000, CloseCode.BAD_HELLO, "unreadable hello: frame of 2000 bytes"),
    ],
)
def test_a_bad_first_frame_is_refused(data: bytes | None, code: CloseCode, reason: str) -> None:
    session = ServerSession(max_frame_bytes=1024)
    event = session.receive_hello(data)
    assert isinstance(event, Refused)
    assert event.code == code and event.reason.startswith(reason)
    assert len(event.reason) <= 120
    assert session.state is State.CLOSING
    assert (session.close_code, session.close_reason) == (event.code, event.reason)


def test_no_hello_in_time() -> None:
    session = ServerSession(max_frame_bytes=1024)
    assert session.hello_timed_out() == Refused(CloseCode.HELLO_TIMEOUT, "no hello in time")
    assert session.state is State.CLOSING


def test_a_greeted_session_may_still_be_refused() -> None:
    session = greeted()
    refused = session.refuse(CloseCode.TOKEN_REVOKED, "token revoked")
    assert refused == Refused(CloseCode.TOKEN_REVOKED, "token revoked")
    assert session.state is State.CLOSING


def test_a_second_hello_is_answered_already_greeted() -> None:
    event = greeted().receive(HELLO)
    assert isinstance(event, FrameRefused)
    assert event.error == Error(None, ErrorCode.INVALID, "already greeted")
    assert decoded(event.reply) == {
        "t": "error",
        "id": None,
        "code": "invalid",
        "message": "already greeted",
    }


def test_a_ping_is_answered_with_its_pong() -> None:
    event = greeted().receive(encode(Ping(ts=42)))
    assert event == PingReceived(Ping(ts=42), encode(Pong(ts=42)))


def test_a_pong_asks_for_nothing() -> None:
    assert greeted().receive(encode(Pong(ts=1))) == PongReceived(Pong(ts=1))


def test_a_call_is_handed_over() -> None:
    event = greeted().receive(encode(Call(5, "threads.list")))
    assert isinstance(event, CallReceived)
    assert (event.call.id, event.call.method) == (5, "threads.list")


@pytest.mark.parametrize(
    ("data", "call_id", "code"),
    [
        (None, None, ErrorCode.INVALID),
        (b"\xc1", None, ErrorCode.INVALID),
        (encode({"t": "call", "id": 9, "method": 3}), 9, ErrorCode.INVALID),
        (encode(Call(4, "x" * 2000)), 4, ErrorCode.TOO_LARGE),
    ],
)
def test_an_unreadable_frame_is_answered_and_the_session_goes_on(
    data: bytes | None, call_id: int | None, code: ErrorCode
) -> None:
    session = greeted()
    event = session.receive(data)
    assert isinstance(event, FrameRefused)
    assert (event.error.id, event.error.code) == (call_id, code)
    assert decoded(event.reply)["code"] == code
    assert session.state is State.OPEN


def test_frames_before_the_hello_or_after_the_close_are_refused() -> None:
    session = ServerSession(max_frame_bytes=1024)
    with pytest.raises(InvalidState):
        session.receive(encode(Ping()))
    with pytest.raises(InvalidState):
        session.refuse(CloseCode.UNAUTHORIZED, "who?")
    session.receive_hello(HELLO)
    with pytest.raises(InvalidState):
        session.receive_hello(HELLO)
    session.close(CloseCode.NORMAL)
    with pytest.raises(InvalidState):
        session.receive(encode(Ping()))


def test_illegal_transitions_raise() -> None:
    session = greeted()
    session.close(CloseCode.NORMAL)
    with pytest.raises(InvalidState, match="from CLOSING to CLOSING"):
        session.close(CloseCode.SERVER_SHUTDOWN)
    session.closed()
    session.closed()  # a lost socket may be reported twice
    assert session.state is State.CLOSED
    with pytest.raises(InvalidState, match="from CLOSED to CLOSING"):
        session.close(CloseCode.NORMAL)


# The client's end.


def test_the_client_says_hello_first() -> None:
    session = ClientSession("t", 7, resume_from=4, client="test")
    assert session.state is State.AWAITING_WELCOME
    [hello] = session.data_to_send()
    assert decoded(hello) == {
        "t": "hello",
        "versions": [1, 2],
        "token": "t",
        "device": 7,
        "resume_from": 4,
        "client": "test",
    }
    assert session.data_to_send() == []


@pytest.mark.parametrize(("resume_from", "cursor"), [(None, 10), (4, 4)])
def test_the_welcome_opens_and_sets_a_new_cursor(resume_from: int | None, cursor: int) -> None:
    session = welcomed(resume_from, cursor=10)
    assert session.state is State.OPEN
    assert session.cursor == cursor
    assert session.welcome is not None and session.welcome.cursor == 10


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (encode(Result(1)), "expected welcome, got Result"),
        (encode({"t": "error", "id": 1, "code": "teapot"}), "expected welcome, got Error"),
        (b"\xc1", "unreadable welcome: "),
    ],
)
def test_anything_but_a_welcome_first_is_refused(data: bytes, reason: str) -> None:
    session = ClientSession("t", 7)
    [event] = session.receive(data)
    assert isinstance(event, Refused) and event.reason.startswith(reason)
    assert session.state is State.CLOSING


def test_durable_events_come_once_and_in_order() -> None:
    session = welcomed(cursor=10)
    seen = [
        event
        for seq in (11, 11, 9, 13, 12)
        for event in session.receive(encode_event("receipt", to_raw({}), seq))
    ]
    assert [type(event) for event in seen] == [
        EventReceived,
        Duplicate,
        Duplicate,
        EventReceived,
        Duplicate,
    ]
    assert [event.seq for event in seen if isinstance(event, Duplicate)] == [11, 9, 12]
    assert session.cursor == 13


def test_a_broken_event_frame_is_handed_on_and_its_seq_counts() -> None:
    session = welcomed(cursor=10)
    broken = msgspec.msgpack.encode({"t": "event", "type": 4, "seq": 12})
    [event] = session.receive(broken)
    assert isinstance(event, EventReceived) and isinstance(event.event, BrokenEvent)
    assert session.cursor == 12
    assert session.receive(broken) == [Duplicate(12)]
    [event] = session.receive(msgspec.msgpack.encode({"t": "event", "type": 4}))
    assert isinstance(event, EventReceived) and event.event.seq is None
    reset = {"t": "event", "type": "sync.reset", "data": {"cursor": 3}, "seq": "x"}
    [event] = session.receive(msgspec.msgpack.encode(reset))
    assert isinstance(event, EventReceived) and isinstance(event.event, BrokenEvent)
    assert session.cursor == 12  # a broken reset moves nothing
    assert session.receive(msgspec.msgpack.encode({"seq": 99})) == []  # untagged: skipped
    assert session.cursor == 12


def test_a_broken_error_frame_answers_its_call() -> None:
    session = welcomed(cursor=10)
    [reply] = session.receive(encode({"t": "error", "id": 4, "code": "teapot", "message": "?"}))
    assert isinstance(reply, ReplyReceived) and isinstance(reply.frame, BrokenError)
    assert (reply.frame.id, reply.frame.code) == (4, "teapot")
    assert session.cursor == 10


def test_ephemeral_events_leave_the_cursor() -> None:
    session = welcomed(cursor=10)
    [event] = session.receive(encode_event("presence", to_raw({})))
    assert isinstance(event, EventReceived) and event.event.type == "presence"
    assert session.cursor == 10


def test_sync_reset_moves_the_cursor_back() -> None:
    session = welcomed(resume_from=3, cursor=50)
    [event] = session.receive(encode_event("sync.reset", to_raw(SyncReset(40))))
    assert isinstance(event, EventReceived)
    assert session.cursor == 40


def test_a_ping_is_ponged_and_moves_the_cursor_forward() -> None:
    session = welcomed(cursor=10)
    [event] = session.receive(encode(Ping(ts=5, cursor=30)))
    assert isinstance(event, PingReceived)
    assert session.data_to_send() == [encode(Pong(ts=5))]
    assert session.cursor == 30
    session.receive(encode(Ping(ts=6, cursor=20)))
    assert session.cursor == 30


def test_replies_are_handed_over_and_unknown_frames_ignored() -> None:
    session = welcomed()
    assert session.receive(encode(Result(3))) == [ReplyReceived(Result(3))]
    failed = Error(4, ErrorCode.FORBIDDEN, "no")
    assert session.receive(encode(failed)) == [ReplyReceived(failed)]
    assert session.receive(encode({"t": "future-frame"})) == []
    assert session.receive(encode(Pong())) == []


def test_silence_limit_follows_the_heartbeat() -> None:
    session = ClientSession("t", 7)
    assert session.silence_seconds == 75.0
    session.receive(welcome(heartbeat_ms=400))
    assert session.silence_seconds == 1.0


def test_a_closing_client_ignores_frames_and_a_closed_one_refuses_them() -> None:
    session = welcomed()
    session.close(CloseCode.HEARTBEAT_TIMEOUT, "server silent")
    assert session.receive(encode(Ping(ts=1))) == []
    assert session.data_to_send() == []
    session.closed()
    with pytest.raises(InvalidState):
        session.receive(encode(Ping(ts=1)))


def test_a_message_of_several_frames_is_read_in_order() -> None:
    session = welcomed(cursor=10)
    frames = [
        encode_event("receipt", to_raw({}), 11),
        encode({"t": "future-frame"}),  # left out, the others still read
        encode(Result(3)),
        encode_event("receipt", to_raw({}), 11),
        encode(Ping(ts=7, cursor=40)),
    ]
    [(message, size)] = messages(frames, 1024)
    assert size == sum(map(len, frames))
    events = session.receive(message)
    assert [type(event) for event in events] == [
        EventReceived,
        ReplyReceived,
        Duplicate,
        PingReceived,
    ]
    assert session.cursor == 40
    assert session.data_to_send() == [encode(Pong(ts=7))]


@pytest.mark.parametrize(
    "frames",
    [
        [welcome(), encode_event("receipt", to_raw({}), 11)],  # its event would be lost
        [encode(Result(1)), welcome()],
        [encode({"t": "future-frame"}), encode({"t": "future-frame"})],  # none to read
    ],
)
def test_the_welcome_must_come_alone(frames: list[bytes]) -> None:
    session = ClientSession("t", 7)
    [(message, _)] = messages(frames, 1024)
    [refused] = session.receive(message)
    assert isinstance(refused, Refused) and refused.reason == "the welcome must come alone"
    assert session.state is State.CLOSING and session.cursor is None


def test_a_client_offers_version_2_only_if_it_reads_its_messages() -> None:
    def offered(max_frame_bytes: int) -> list[int]:
        [hello] = ClientSession("t", 7, max_frame_bytes=max_frame_bytes).data_to_send()
        return list(decoded(hello)["versions"])

    assert offered(PACKED_BYTES) == [1, 2]
    assert offered(PACKED_BYTES - 1) == [1]
