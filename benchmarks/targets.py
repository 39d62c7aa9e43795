"""The servers under test, each started as its own process pinned to the
server core, with whatever it needs (a database, Redis) pinned beside it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from sqlalchemy import make_url

from benchmarks.adapters import Endpoint
from benchmarks.plan import Plan
from benchmarks.seed import seed
from tests.support.server import free_port, terminate

__all__ = ["TARGETS", "RunningTarget", "start_target"]

# Raised so that the benchmark measures the server, not its rate limiter.
UNLIMITED = {
    "CAREHUB_CALLS_PER_SECOND": "1000000",
    "CAREHUB_CALL_BURST": "1000000",
    "CAREHUB_SENDS_PER_SECOND": "1000000",
    "CAREHUB_SEND_BURST": "1000000",
    "CAREHUB_LOGINS_PER_SOURCE_PER_MINUTE": "1000000",  # every client is on loopback
    "CAREHUB_REGISTRATIONS_PER_SOURCE_PER_HOUR": "1000000",
}


def pinned(cpu: int | None, command: list[str]) -> list[str]:
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


def process_cpu_seconds(process: psutil.Process) -> float:
    """The CPU time of ``process`` and of its children that have ended: a
    PostgreSQL backend that exits (a connection the pool closed) takes its
    time to the postmaster's, instead of out of a step's sum."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system + times.children_user + times.children_system)


def pin_tree(pid: int, cpu: int | None) -> None:
    """Pin a running process and its children (PostgreSQL's workers)."""
    if cpu is None:
        return
    parent = psutil.Process(pid)
    for process in [parent, *parent.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            process.cpu_affinity([cpu])


@dataclass
class RunningTarget:
    name: str
    adapter: str
    port: int
    process: subprocess.Popen[bytes]
    endpoint: Callable[[int], Endpoint]  # link index -> where it connects
    helpers: list[psutil.Process] = field(default_factory=list)  # database, Redis
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    health: list[str] = field(default_factory=list)  # carehub: each node's /healthz

    def processes(self) -> list[psutil.Process]:
        """Every process on the server side, for CPU and memory sampling."""
        found: list[psutil.Process] = []
        for root in [psutil.Process(self.process.pid), *self.helpers]:
            with contextlib.suppress(psutil.Error):
                found += [root, *root.children(recursive=True)]
        return found

    def stop(self) -> None:
        terminate(self.process)
        for cleanup in reversed(self.cleanups):
            cleanup()


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path, url: str = "") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"target exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError, httpx.HTTPError):
            if url:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            else:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
        time.sleep(0.05)  # a starting process has no event to await
    raise RuntimeError(f"target not ready: {log.read_text(errors='replace')[-2000:]}")


def _spawn(
    command: list[str], cpu: int | None, workdir: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    log = workdir / "target.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            pinned(cpu, command),
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )
    return process, log


def _redis(workdir: Path, cpu: int | None) -> tuple[psutil.Process, str, Callable[[], None]]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(workdir)]
    process = subprocess.Popen(pinned(cpu, command), stdout=subprocess.DEVNULL)
    _wait_ready(process, port, workdir / "redis.log")

    def stop() -> None:
        process.kill()
        process.wait()

    return psutil.Process(process.pid), f"redis://127.0.0.1:{port}", stop


def _uvicorn(app: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def _slow_link(
    port: int, delay_ms: float, server_cpu: int | None
) -> tuple[int, subprocess.Popen[bytes]]:
    """A relay to ``port`` that delays each way by ``delay_ms``
    (``benchmarks.slow_link``), on a core other than the server's: it
    stands for the network, not for the server's work. Its port."""
    others = sorted(os.sched_getaffinity(0) - {server_cpu})
    command = [sys.executable, "-m", "benchmarks.slow_link", "--to", f"127.0.0.1:{port}"]
    command += ["--delay-ms", str(delay_ms)]
    cpu = others[0] if server_cpu is not None and others else None
    relay = subprocess.Popen(pinned(cpu, command), stdout=subprocess.PIPE)
    assert relay.stdout is not None
    try:
        with relay.stdout:  # it prints its port, then nothing
            return int(relay.stdout.readline()), relay
    except BaseException:
        terminate(relay)
        raise


def _carehub(
    db: str, nodes: int = 1, redis: bool = False, link_ms: float = 0
) -> Callable[[Plan, Path, int | None], RunningTarget]:
    """carehub on ``db``; with ``redis``, ``nodes`` nodes sharing it and the
    database, the links dealt to them in turn (every server process on the
    server core: the cost of a Redis hop, not the gain of a second core).
    ``link_ms``: PostgreSQL as far from the nodes as that, each way (as on
    another machine: ``_slow_link``)."""

    def start(plan: Plan, workdir: Path, cpu: int | None) -> RunningTarget:
        helpers: list[psutil.Process] = []
        cleanups: list[Callable[[], None]] = []
        versions: dict[str, str] = {}
        env = dict(UNLIMITED)
        if redis:
            redis_process, env["CAREHUB_REDIS"], stop_redis = _redis(workdir, cpu)
            helpers.append(redis_process)
            cleanups.append(stop_redis)
        if db == "sqlite":
            url = f"sqlite+aiosqlite:///{workdir / 'carehub.db'}"
        else:
            from tests.support.postgres import PostgresServer

            postgres = PostgresServer(durable=True).start()
            cleanups.insert(0, postgres.stop)
            pid = int((postgres.data / "postmaster.pid").read_text().split()[0])
            pin_tree(pid, cpu)
            helpers.append(psutil.Process(pid))
            url = postgres.url
            versions["postgresql"] = postgres.version()
        try:
            seeded = asyncio.run(seed(url, plan))
            if link_ms:  # seeded straight, served through the relay
                relay_port, relay = _slow_link(postgres.port, link_ms, cpu)
                cleanups.insert(0, lambda: terminate(relay))
                url = make_url(url).set(port=relay_port).render_as_string(hide_password=False)
                versions["postgresql"] += f", behind a relay delaying {link_ms} ms each way"
        except BaseException:
            for cleanup in cleanups:
                cleanup()
            raise
        ports = [free_port() for _ in range(nodes)]

        recipients: dict[int, tuple[int, ...]] = {}  # room -> every device of its members

        def endpoint(index: int) -> Endpoint:
            link = plan.links[index]
            if link.room not in recipients:
                members = plan.rooms[link.room]
                recipients[link.room] = tuple(d for m in members for d in seeded.device_ids[m])
            return Endpoint(
                f"ws://127.0.0.1:{ports[index % nodes]}/ws",
                str(seeded.thread_ids[link.room]),
                seeded.tokens[link.user][link.device],
                seeded.device_ids[link.user][link.device],
                user=seeded.user_ids[link.user],
                recipients=recipients[link.room],
            )

        started = []
        for node, port in enumerate(ports):
            command = [sys.executable, "-m", "server", "serve", "--db", url, "--port", str(port)]
            command += ["--log-level", "warning", "--node-id", f"bench{node}"]
            started.append(_spawn(command, cpu, workdir, env))
        process, others = started[0][0], [p for p, _ in started[1:]]
        helpers += [psutil.Process(other.pid) for other in others]
        cleanups += [lambda other=other: terminate(other) for other in others]
        name = f"carehub-{db}" + (f"-redis-{nodes}" if redis else "") + ("-far" if link_ms else "")
        health = [f"http://127.0.0.1:{port}/healthz" for port in ports]
        target = RunningTarget(
            name, "carehub", ports[0], process, endpoint, helpers, cleanups, versions, health
        )
        try:
            for (node_process, node_log), port, url in zip(started, ports, health, strict=True):
                _wait_ready(node_process, port, node_log, url)
        except BaseException:
            target.stop()
            raise
        return target

    return start


def _peer(
    name: str, adapter: str, command: Callable[[int], list[str]], path: str, redis: bool = False
) -> Callable[[Plan, Path, int | None], RunningTarget]:
    def start(plan: Plan, workdir: Path, cpu: int | None) -> RunningTarget:
        env = {"DJANGO_SETTINGS_MODULE": "benchmarks.peers.channels_app.settings"}
        helpers: list[psutil.Process] = []
        cleanups: list[Callable[[], None]] = []
        if redis:
            redis_process, env["REDIS_URL"], stop_redis = _redis(workdir, cpu)
            env["CHANNEL_LAYER"] = "redis"
            helpers.append(redis_process)
            cleanups.append(stop_redis)
        port = free_port()
        process, log = _spawn(command(port), cpu, workdir, env)

        def endpoint(index: int) -> Endpoint:
            room = f"room{plan.links[index].room}"
            return Endpoint(f"ws://127.0.0.1:{port}{path.format(room=room)}", room)

        target = RunningTarget(name, adapter, port, process, endpoint, helpers, cleanups)
        try:
            _wait_ready(process, port, log)
        except BaseException:
            target.stop()
            raise
        return target

    return start


def _daphne(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "daphne",
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "-v",
        "0",
        "benchmarks.peers.channels_app.asgi:application",
    ]


TARGETS: dict[str, Callable[[Plan, Path, int | None], RunningTarget]] = {
    "carehub": _carehub("sqlite"),
    "carehub-pg": _carehub("postgresql"),
    # 0.125 ms each way and the relay's own: a SELECT 1 takes 0.49 ms through it (0.02 without)
    "carehub-pg-far": _carehub("postgresql", link_ms=0.125),
    "carehub-pg-redis": _carehub("postgresql", nodes=1, redis=True),
    "carehub-pg-redis2": _carehub("postgresql", nodes=2, redis=True),
    "ceiling": _peer(
        "ceiling", "ceiling", lambda p: _uvicorn("benchmarks.peers.ceiling:app", p), "/ws/{room}"
    ),
    "channels": _peer("channels", "channels", _daphne, "/ws/{room}/"),
    "channels-redis": _peer("channels-redis", "channels", _daphne, "/ws/{room}/", redis=True),
    "socketio": _peer(
        "socketio",
        "socketio",
        lambda p: _uvicorn("benchmarks.peers.socketio_app:app", p),
        "/socket.io/?EIO=4&transport=websocket",
    ),
}


def start_target(name: str, plan: Plan, workdir: Path, cpu: int | None) -> RunningTarget:
    return TARGETS[name](plan, workdir, cpu)
