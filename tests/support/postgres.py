"""A throwaway PostgreSQL server for tests: initdb in a temp dir, a free
loopback port, stopped and removed afterwards.

Debian keeps the server binaries outside PATH (/usr/lib/postgresql/N/bin),
and PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` system user the package creates.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tests.support.server import free_port

__all__ = ["PostgresServer", "create_database", "find_bindir"]

_TOOLS = ("initdb", "pg_ctl", "postgres")


def _has_tools(bindir: Path) -> bool:
    return all((bindir / tool).exists() for tool in _TOOLS)


def find_bindir() -> Path | None:
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            )
            candidates.append(Path(out.stdout.strip()))
        except subprocess.CalledProcessError:
            pass
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
    candidates += [Path(p) for p in reversed(versions)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(os.path.realpath(initdb)).parent)
    return next((c for c in candidates if _has_tools(c)), None)


class PostgresServer:
    def __init__(self, *, durable: bool = False) -> None:
        """``durable`` keeps fsync and synchronous commit on (for benchmarks);
        tests trade them for speed."""
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries not found")
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="carehub-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.durable = durable
        self._as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/carehub"

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as_user, str(self.bindir / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {result.stderr or result.stdout}\n{tail}")

    def start(self) -> PostgresServer:
        if self._as_user:
            shutil.chown(self.root, "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.start_server()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "carehub")
        return self

    def start_server(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root}"
            " -c max_connections=300"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-w", "-D", str(self.data), "-l", str(self.log), "-o", options, "start")

    def version(self) -> str:
        out = subprocess.run(
            [str(self.bindir / "postgres"), "--version"], capture_output=True, text=True
        )
        return out.stdout.strip()

    def stop_server(self) -> None:
        self._run("pg_ctl", "-w", "-D", str(self.data), "-m", "fast", "stop")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop_server()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def create_database(server: PostgresServer, name: str) -> str:
    """A fresh, empty database on ``server``; returns its URL."""
    server._run("createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", name)
    return f"postgresql+asyncpg://postgres@127.0.0.1:{server.port}/{name}"
