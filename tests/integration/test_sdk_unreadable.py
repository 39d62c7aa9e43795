"""The Python SDK hands on an event it cannot decode instead of dropping it.

A scripted server on a real socket sends, after its welcome, a durable
``message.new`` whose data does not validate, then a valid ``receipt``.
Dropping the first would lose it for good: the cursor moves past its seq,
so no resume brings it back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import msgspec
import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from clients import UNREADABLE, Client, Credentials, Unreadable
from protocol.codec import SUBPROTOCOL, encode_event, to_raw
from protocol.events import ReceiptUpdated
from tests.support.pushservice import serving
from tests.support.wire import welcome

CURSOR = 40
BAD_DATA = {"thread": "not a number"}


async def _scripted(ws: WebSocket) -> None:
    await ws.accept(subprotocol=SUBPROTOCOL)
    await ws.receive_bytes()  # the hello
    await ws.send_bytes(welcome(CURSOR))
    await ws.send_bytes(encode_event("message.new", to_raw(BAD_DATA), CURSOR + 1))
    await ws.send_bytes(encode_event("receipt", to_raw(ReceiptUpdated(5, 3, 9, 8)), CURSOR + 2))
    await ws.receive()  # until the client closes


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
        unreadable = await client.next_event()
        after = await client.next_event()

    assert unreadable.type == UNREADABLE
    assert unreadable.seq == CURSOR + 1
    assert isinstance(unreadable.data, Unreadable)
    assert unreadable.data.type == "message.new"
    assert msgspec.msgpack.decode(unreadable.data.data) == BAD_DATA
    assert "thread" in unreadable.data.reason
    assert (after.type, after.seq) == ("receipt", CURSOR + 2)
    assert after.data == ReceiptUpdated(5, 3, 9, 8)
    assert client.stats.unreadable == 1
    assert client.cursor == CURSOR + 2
    assert [record.getMessage() for record in caplog.records] == [
        f"event message.new #{CURSOR + 1} is unreadable: {unreadable.data.reason}"
    ]
