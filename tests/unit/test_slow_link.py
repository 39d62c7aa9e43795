"""The benchmarks' slow link: every byte through, in order, each way late
by the delay, and a half-close passed on."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from benchmarks.targets import _slow_link
from tests.support.server import terminate

DELAY_MS = 20.0


def _echo(listener: socket.socket) -> None:
    peer, _ = listener.accept()
    with peer:
        while data := peer.recv(1 << 16):
            peer.sendall(data)


@pytest.fixture
def relayed() -> Iterator[socket.socket]:
    """A connection through the relay to an echo server."""
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=_echo, args=(listener,), daemon=True).start()
    port, relay = _slow_link(listener.getsockname()[1], DELAY_MS, server_cpu=None)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            yield client
    finally:
        terminate(relay)
        listener.close()


def _receive(client: socket.socket, size: int) -> bytes:
    received = b""
    while len(received) < size:
        chunk = client.recv(size - len(received))
        assert chunk, "closed early"
        received += chunk
    return received


def test_a_round_trip_takes_the_delay_each_way(relayed: socket.socket) -> None:
    started = time.perf_counter()
    relayed.sendall(b"ping")
    assert _receive(relayed, 4) == b"ping"
    assert time.perf_counter() - started >= 2 * DELAY_MS / 1000


def test_bytes_sent_together_arrive_in_order_and_the_end_is_passed_on(
    relayed: socket.socket,
) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB, many chunks each way
    sender = threading.Thread(target=relayed.sendall, args=(payload,))
    sender.start()
    assert _receive(relayed, len(payload)) == payload
    sender.join()
    relayed.shutdown(socket.SHUT_WR)  # the echo server sees the end and closes: so do we
    assert relayed.recv(1) == b""
