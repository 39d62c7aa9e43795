"""``python -m benchmarks.slow_link``: a TCP relay that delays every byte.

A database on another machine, on loopback: each chunk read from one side
is written to the other ``--delay-ms`` after it arrived (so a round trip
costs twice that), in order, without holding back the chunks behind it.
Threads with ``time.sleep`` rather than an event loop, whose timers round
up to the millisecond. Prints its port, then relays until killed.
"""

from __future__ import annotations

import argparse
import queue
import socket
import sys
import threading
import time

_CHUNK = 1 << 16


def _read(source: socket.socket, chunks: queue.SimpleQueue[tuple[float, bytes]]) -> None:
    while True:
        try:
            data = source.recv(_CHUNK)
        except OSError:
            data = b""
        chunks.put((time.perf_counter(), data))
        if not data:
            return


def _write(
    chunks: queue.SimpleQueue[tuple[float, bytes]], target: socket.socket, delay: float
) -> None:
    while True:
        arrived, data = chunks.get()
        time.sleep(max(arrived + delay - time.perf_counter(), 0))
        if not data:
            target.shutdown(socket.SHUT_WR)
            return
        try:
            target.sendall(data)
        except OSError:
            return


def _relay(source: socket.socket, target: socket.socket, delay: float) -> None:
    chunks: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
    threading.Thread(target=_read, args=(source, chunks), daemon=True).start()
    threading.Thread(target=_write, args=(chunks, target, delay), daemon=True).start()


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
        _relay(client, server, delay)
        _relay(server, client, delay)


if __name__ == "__main__":
    main()
