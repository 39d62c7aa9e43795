"""The Python SDK hands on an event it cannot decode instead of dropping
it, and fails a call whose error it cannot decode instead of waiting.

A scripted server on a real socket sends, after its welcome, a durable
``message.new`` whose data does not validate, then a valid ``receipt``,
then a message of several frames holding an event frame whose own type is
not a string between two valid ones. Dropping the unreadable ones would
lose them for good: the cursor moves past their seqs, so no resume brings
them back. It then answers every call with an error frame that does not
validate: a code from a newer server, or no code at all.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from clients import UNREADABLE, CallError, Client, Credentials, Unreadable
from protocol.codec import SUBPROTOCOL, encode, encode_event, messages, to_raw
from protocol.errors import ErrorCode
from protocol.events import ReceiptUpdated
from tests.support.pushservice import serving
from tests.support.wire import welcome

CURSOR = 40
BAD_DATA = {"thread": "not a number"}
BAD_FRAME = {"t": "event", "type": 12, "data": {}, "seq": CURSOR + 4}
RECEIPT = to_raw(ReceiptUpdated(5, 3, 9, 8))
NEWER_ERROR = {"code": "payment_required", "message": "Abonnement requis", "details": {"plan": 2}}
ERRORS: dict[str, dict[str, Any]] = {
    "threads.list": NEWER_ERROR,
    "threads.get": {"code": 7, "message": None},
}


async def _scripted(ws: WebSocket) -> None:
    await ws.accept(subprotocol=SUBPROTOCOL)
    await ws.receive_bytes()  # the hello
    await ws.send_bytes(welcome(CURSOR, version=2))  # several frames a message
    await ws.send_bytes(encode_event("message.new", to_raw(BAD_DATA), CURSOR + 1))
    await ws.send_bytes(encode_event("receipt", RECEIPT, CURSOR + 2))
    frames = [encode_event("receipt", RECEIPT, seq) for seq in (CURSOR + 3, CURSOR + 5)]
    [(several, _)] = messages([frames[0], encode(BAD_FRAME), frames[1]], 1024)
    await ws.send_bytes(several)
    while (message := await ws.receive())["type"] == "websocket.receive":  # until it closes
        frame = msgspec.msgpack.decode(message["bytes"])
        if frame["t"] == "call":  # not a pong
            await ws.send_bytes(encode({"t": "error", "id": frame["id"]} | ERRORS[frame["method"]]))


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    app = Starlette(routes=[WebSocketRoute("/ws", _scripted)])
    async with serving(app) as origin:
        url = origin.replace("http", "ws") + "/ws"
        async with Client(url, Credentials("t", 3, 7, "patient", 0), reconnect=False) as sdk:
            yield sdk


async def test_an_undecodable_event_is_handed_on_as_unreadable(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="clients.client"):
        unreadable, after, *_ = [await client.next_event() for _ in range(5)]

    assert unreadable.type == UNREADABLE
    assert unreadable.seq == CURSOR + 1
    assert isinstance(unreadable.data, Unreadable)
    assert unreadable.data.type == "message.new"
    assert msgspec.msgpack.decode(unreadable.data.data) == BAD_DATA
    assert "thread" in unreadable.data.reason
    assert (after.type, after.seq) == ("receipt", CURSOR + 2)
    assert after.data == ReceiptUpdated(5, 3, 9, 8)
    assert client.stats.unreadable == 2
    assert client.cursor == CURSOR + 5
    assert [record.getMessage() for record in caplog.records] == [
        f"event message.new #{CURSOR + 1} is unreadable: {unreadable.data.reason}",
        f"event ? #{CURSOR + 4} is unreadable: Expected `str`, got `int` - at `$.type`",
    ]


async def test_an_event_frame_that_does_not_validate_is_handed_on_in_its_place(
    client: Client,
) -> None:
    read = [await client.next_event() for _ in range(5)]

    assert [(event.type, event.seq) for event in read[2:]] == [
        ("receipt", CURSOR + 3),
        (UNREADABLE, CURSOR + 4),
        ("receipt", CURSOR + 5),
    ]
    broken = read[3].data
    assert isinstance(broken, Unreadable)
    assert broken.type == ""  # the frame's is not a string
    assert msgspec.msgpack.decode(broken.data) == BAD_FRAME
    assert "type" in broken.reason


async def test_an_error_of_a_code_this_sdk_does_not_know_fails_its_call(client: Client) -> None:
    with pytest.raises(CallError) as refused:
        await client.call("threads.list", timeout=5)  # not a TimeoutError

    assert refused.value.code == "payment_required"
    assert (refused.value.message, refused.value.details) == ("Abonnement requis", {"plan": 2})


async def test_an_error_frame_without_a_code_fails_its_call_as_internal(client: Client) -> None:
    with pytest.raises(CallError) as refused:
        await client.call("threads.get", {"thread": 1}, timeout=5)

    assert refused.value.code == ErrorCode.INTERNAL
    assert refused.value.message.startswith("unreadable error: ")
    assert "code" in refused.value.message
