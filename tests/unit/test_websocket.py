"""``server.websocket.Socket``: the ASGI messages it sends and reads, and
a client gone at any point becomes ``Disconnected``."""

from __future__ import annotations

from typing import Any

import pytest

from server.app import _route_path
from server.websocket import Disconnected, Socket


class Peer:
    """The ASGI server's side: messages to hand out, messages received."""

    def __init__(self, *incoming: dict[str, Any], send_fails: bool = False) -> None:
        self.incoming = list(incoming)
        self.sent: list[dict[str, Any]] = []
        self.send_fails = send_fails

    async def receive(self) -> dict[str, Any]:
        return self.incoming.pop(0)

    async def send(self, message: dict[str, Any]) -> None:
        if self.send_fails:
            raise ConnectionResetError("the client is gone")
        self.sent.append(message)

    def socket(self, subprotocols: tuple[str, ...] = ()) -> Socket:
        scope = {"type": "websocket", "path": "/ws", "subprotocols": list(subprotocols)}
        return Socket(scope, self.receive, self.send)


async def test_accept_reads_the_connect_then_accepts_with_the_subprotocol() -> None:
    peer = Peer({"type": "websocket.connect"})
    ws = peer.socket(("carehub.v1",))
    assert ws.subprotocols == ["carehub.v1"]
    await ws.accept("carehub.v1")
    assert peer.sent == [{"type": "websocket.accept", "subprotocol": "carehub.v1"}]


async def test_a_client_gone_before_the_connect_is_disconnected() -> None:
    peer = Peer({"type": "websocket.disconnect", "code": 1006})
    with pytest.raises(Disconnected):
        await peer.socket().accept()
    assert peer.sent == []


async def test_receive_gives_bytes_none_for_text_and_raises_once_gone() -> None:
    peer = Peer(
        {"type": "websocket.receive", "bytes": b"\x80"},
        {"type": "websocket.receive", "text": "hello"},
        {"type": "websocket.disconnect", "code": 1000},
    )
    ws = peer.socket()
    assert await ws.receive() == b"\x80"
    assert await ws.receive() is None  # the wire refuses a text frame
    with pytest.raises(Disconnected):
        await ws.receive()


async def test_a_send_to_a_gone_client_is_disconnected() -> None:
    ws = Peer(send_fails=True).socket()
    with pytest.raises(Disconnected):
        await ws.send(b"frame")


async def test_close_is_sent_once() -> None:
    peer = Peer()
    ws = peer.socket()
    await ws.send(b"last")
    await ws.close(4002, "bye")
    await ws.close(1000, "again")
    assert peer.sent == [
        {"type": "websocket.send", "bytes": b"last"},
        {"type": "websocket.close", "code": 4002, "reason": "bye"},
    ]


@pytest.mark.parametrize(
    ("path", "root_path", "routed"),
    [("/ws", "", "/ws"), ("/hub/ws", "/hub", "/ws"), ("/ws", "/hub", "/ws"), ("/hub", "/hub", "")],
)
def test_the_front_routes_the_path_under_the_root_path(
    path: str, root_path: str, routed: str
) -> None:
    assert _route_path({"type": "websocket", "path": path, "root_path": root_path}) == routed
