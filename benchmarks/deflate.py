"""What per-message deflate costs a link: the server's memory per open
``/ws`` link when the client offers ``permessage-deflate``, as every
browser does, with the server's deflate on and off.

    .venv/bin/python -m benchmarks.deflate [--links 2000]

The main benchmarks' links (picows) never offer deflate, so they cannot
show it. This one opens ``--links`` sockets with the ``websockets`` client
(which offers it, like a browser) against the app under uvicorn, once with
``--ws-per-message-deflate true`` (uvicorn's default) and once ``false``
(what ``carehub serve`` runs), and reads the server's resident memory
before and after. The links stay before their hello: what is measured is
the transport's cost, not carehub's session (see the ``connections``
scenario for that).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from benchmarks.report import machine
from benchmarks.targets import UNLIMITED, _spawn, _wait_ready
from protocol.codec import SUBPROTOCOL
from tests.support.server import free_port, terminate

RESULTS = Path(__file__).resolve().parent / "results"
WARM_LINKS = 50  # opened and closed first: the server's first connections allocate its pools


async def _open(port: int, count: int) -> list[ClientConnection]:
    url, offered = f"ws://127.0.0.1:{port}/ws", [Subprotocol(SUBPROTOCOL)]
    return [await connect(url, subprotocols=offered, ping_interval=None) for _ in range(count)]


async def _per_link(pid: int, port: int, links: int) -> dict[str, Any]:
    for warm in await _open(port, WARM_LINKS):
        await warm.close()
    server = psutil.Process(pid)
    before = server.memory_info().rss
    opened = await _open(port, links)
    after = server.memory_info().rss
    response = opened[0].response
    negotiated = response.headers.get("Sec-WebSocket-Extensions") if response else None
    for link in opened:
        await link.close()
    return {"kib_per_link": round((after - before) / links / 1024, 1), "negotiated": negotiated}


def _measure(deflate: bool, links: int, workdir: Path) -> dict[str, Any]:
    port = free_port()
    env = {
        **UNLIMITED,
        "CAREHUB_DB": f"sqlite+aiosqlite:///{workdir / f'carehub-{port}.db'}",
        "CAREHUB_BLOB_DIR": str(workdir / "blobs"),
        "CAREHUB_PUSH_KEY_FILE": str(workdir / f"push-{port}.key"),
        "CAREHUB_HELLO_TIMEOUT_SECONDS": "600",  # the links wait before their hello
    }
    command = [sys.executable, "-m", "uvicorn", "server.asgi:app", "--port", str(port)]
    command += ["--log-level", "warning", "--ws-ping-interval", "0"]
    command += ["--ws-per-message-deflate", "true" if deflate else "false"]
    process, log = _spawn(command, 0, workdir, env)
    try:
        _wait_ready(process, port, log, f"http://127.0.0.1:{port}/healthz")
        return {"deflate": deflate, **asyncio.run(_per_link(process.pid, port, links))}
    finally:
        terminate(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--links", type=int, default=2000)
    args = parser.parse_args(argv)
    os.sched_setaffinity(0, {1})  # the client on core 1, the server on core 0
    with tempfile.TemporaryDirectory(prefix="carehub-deflate-") as tmp:
        runs = [_measure(deflate, args.links, Path(tmp)) for deflate in (True, False)]
    for run in runs:
        state = "on " if run["deflate"] else "off"
        print(f"deflate {state}: {run['kib_per_link']} KiB a link ({run['negotiated']})")
    result = {
        "scenario": "deflate",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.deflate " + " ".join(sys.argv[1:]),
        "machine": machine(0, 1),
        "links": args.links,
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"deflate-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
