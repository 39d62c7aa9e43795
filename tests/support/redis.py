"""A throwaway redis-server on a free loopback port (Debian's package)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.server import free_port, terminate

__all__ = ["RedisServer", "find_redis"]


def find_redis() -> str | None:
    found = shutil.which("redis-server")
    return found or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)


class RedisServer:
    """Start, stop and start again (same port) a redis-server without
    persistence: a restart loses everything, as an outage may."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="carehub-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = find_redis()
        assert binary is not None, "redis-server not found (apt-get install redis-server)"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.root)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.02)  # a starting process has no event to await
        raise RuntimeError("redis-server did not start")

    def flush(self) -> RedisServer:
        """Forget what earlier tests left (nodes, routes, presence, leases)."""
        with redis.Redis(port=self.port) as client:
            client.flushall()
        return self

    def stop_server(self) -> None:
        if self.process is not None:
            terminate(self.process)
            self.process = None

    def stop(self) -> None:
        self.stop_server()
        shutil.rmtree(self.root, ignore_errors=True)
