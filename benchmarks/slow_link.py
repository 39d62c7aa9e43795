"""``python -m benchmarks.slow_link``: a TCP relay that delays every byte.

A database on another machine, on loopback: each chunk read from one side
is written to the other ``--delay-ms`` after it arrived (so a round trip
costs twice that), in order, without holding back the chunks behind it.
Threads with ``time.sleep`` rather than an event loop, whose timers round
up to the millisecond. Prints its port, then relays until killed.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import socket
import sys
import threading
import time

_CHUNK = 1 << 16


class _Link:
    """A relayed connection's two sockets, closed once both ways have ended."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.sockets = (client, server)
        self._ended = 0
        self._lock = threading.Lock()

    def one_way_ended(self) -> None:
        with self._lock:
            self._ended += 1
            if self._ended == 2:
                for side in self.sockets:
                    side.close()


def _read(source: socket.socket, chunks: queue.SimpleQueue[tuple[float, bytes]]) -> None:
    """Every chunk with the time it arrived; b"" at the end (or a reset)."""
    while True:
        try:
            data = source.recv(_CHUNK)
        except OSError:
            data = b""
        chunks.put((time.perf_counter(), data))
        if not data:
            return


def _write(
    chunks: queue.SimpleQueue[tuple[float, bytes]],
    source: socket.socket,
    target: socket.socket,
    delay: float,
    link: _Link,
) -> None:
    """Each chunk ``delay`` after it arrived; the end passed on as a
    half-close. A target that fails stops the source too."""
    with contextlib.suppress(OSError):
        try:
            while data := _due(chunks, delay):
                target.sendall(data)
            target.shutdown(socket.SHUT_WR)
        except OSError:
            source.shutdown(socket.SHUT_RDWR)
    link.one_way_ended()


def _due(chunks: queue.SimpleQueue[tuple[float, bytes]], delay: float) -> bytes:
    arrived, data = chunks.get()
    time.sleep(max(arrived + delay - time.perf_counter(), 0))
    return data


def _relay(source: socket.socket, target: socket.socket, delay: float, link: _Link) -> None:
    chunks: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
    threading.Thread(target=_read, args=(source, chunks), daemon=True).start()
    writing = (chunks, source, target, delay, link)
    threading.Thread(target=_write, args=writing, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.slow_link", description=__doc__)
    parser.add_argument("--to", required=True, help="host:port to relay to")
    parser.add_argument("--delay-ms", type=float, required=True, help="each way")
    args = parser.parse_args()
    host, port = args.to.rsplit(":", 1)
    delay = args.delay_ms / 1000
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        try:
            server = socket.create_connection((host, int(port)))
        except OSError as exc:
            print(f"slow_link: {exc}", file=sys.stderr, flush=True)
            client.close()
            continue
        for side in (client, server):
            side.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        link = _Link(client, server)
        _relay(client, server, delay, link)
        _relay(server, client, delay, link)


if __name__ == "__main__":
    main()
