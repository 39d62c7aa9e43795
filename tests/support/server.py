"""Run the real server (``python -m server serve``) on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from clients import Client, Credentials, login, register
from clients.e2e import Body, Keystore, Outgoing, Secure, seal_envelope
from protocol.e2e import Scope
from protocol.methods import ThreadsOpenParams
from protocol.model import ThreadKind
from protocol.practice import (
    CareParams,
    PracticeCreateParams,
    PracticeMemberParams,
    PracticeParams,
    UserParams,
)

if TYPE_CHECKING:
    from server.context import Context

__all__ = ["PASSWORD", "RunningServer", "free_port", "received", "start_server", "terminate"]

PASSWORD = "correct horse battery"


async def received(client: Client, *, until: str, count: int = 1) -> list[Any]:
    """Every event up to the ``count``-th one of type ``until``."""
    seen = []
    while sum(event.type == until for event in seen) < count:
        seen.append(await client.next_event())
    return seen


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it is still there after 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class RunningServer:
    db: str
    port: int
    process: subprocess.Popen[bytes] | None  # None: served in the test's process
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    usernames: dict[int, str] = field(default_factory=dict)
    keys: dict[int, Keystore] = field(default_factory=dict)  # by device id
    _admin: Credentials | None = None
    context: Context | None = None  # served in the test's process: its node's services

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def health(self) -> dict[str, Any]:
        """What ``/healthz`` reports."""
        async with httpx.AsyncClient() as http:
            found: dict[str, Any] = (await http.get(f"{self.base_url}/healthz")).json()
        return found

    async def healthz(self, count: str) -> int:
        """A count ``/healthz`` reports (``commits``, ``writes``...)."""
        return int((await self.health())[count])

    async def user(
        self,
        role: str = "patient",
        name: str = "",
        *,
        publish_keys: bool = True,
        verified: bool = True,
    ) -> Credentials:
        """A new user of ``role``, logged in on a new device whose keys are
        published (as the SDK does on first start), unless ``publish_keys`` is
        off. Practitioners are verified by an admin unless ``verified`` is off."""
        username = f"{role}-{uuid.uuid4().hex[:10]}"
        if role in ("patient", "practitioner"):
            user_id = (await register(self.base_url, username, PASSWORD, name or username, role)).id
        else:  # assistants, bots and admins are created by an admin
            user_id = (await self._carehub_user(username, name or username, role))["id"]
        self.usernames[user_id] = username
        credentials = await login(self.base_url, username, PASSWORD, device_name="test")
        keys = Keystore.create(credentials.user_id, credentials.device_id, with_identity=True)
        self.keys[credentials.device_id] = keys
        if publish_keys:
            async with self.secure(credentials) as secure:
                await secure.setup()
        if role == "practitioner" and verified:
            async with self.client(await self.admin()) as admin:
                await admin.call("admin.verify", UserParams(credentials.user_id))
        return credentials

    async def admin(self) -> Credentials:
        """The server's admin account, created with ``carehub user`` on first use."""
        if self._admin is None:
            username = f"admin-{uuid.uuid4().hex[:10]}"
            await self._carehub_user(username, "Admin", "admin")
            self._admin = await login(self.base_url, username, PASSWORD, device_name="console")
            self.usernames[self._admin.user_id] = username
        return self._admin

    async def _carehub_user(self, username: str, name: str, role: str) -> dict[str, Any]:
        command = [sys.executable, "-m", "server", "user", username, "--db", self.db]
        command += ["--name", name, "--role", role, "--password-stdin"]
        created = await asyncio.create_subprocess_exec(
            *command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=self.env
        )
        out, _ = await created.communicate(f"{PASSWORD}\n".encode())
        assert created.returncode == 0, f"carehub user --role {role} failed"
        user: dict[str, Any] = json.loads(out)
        return user

    async def add_patient(self, doctor: Credentials, patient: Credentials) -> None:
        """``doctor`` asks ``patient`` to be their patient, and the patient accepts."""
        async with self.client(doctor) as client:
            await client.call("patients.add", UserParams(patient.user_id))
        async with self.client(patient) as client:
            await client.call("care.accept", CareParams(doctor.user_id))

    async def assistant_of(
        self, *practitioners: Credentials, role: str = "assistant", publish_keys: bool = True
    ) -> Credentials:
        """A new assistant (or bot), in a new practice with ``practitioners``."""
        assistant = await self.user(role, publish_keys=publish_keys)
        async with self.client(practitioners[0]) as client:
            practice = await client.call("practices.create", PracticeCreateParams("Cabinet"))
        for member in (*practitioners[1:], assistant):
            await self.join_practice(practitioners[0], practice.id, member)
        return assistant

    async def join_practice(self, member: Credentials, practice: int, joiner: Credentials) -> None:
        """``member`` invites ``joiner`` into ``practice``, and ``joiner`` accepts."""
        async with self.client(member) as client:
            await client.call("practices.invite", PracticeMemberParams(practice, joiner.user_id))
        async with self.client(joiner) as client:
            await client.call("practices.accept", PracticeParams(practice))

    async def delegate(
        self,
        practitioner: Credentials,
        assistant: Credentials,
        scope: Iterable[Scope] = (Scope.READ, Scope.REPLY),
        expires: int | None = None,
    ) -> None:
        """``practitioner`` delegates ``scope`` to ``assistant`` from their
        identity device, by publishing a new signed list."""
        async with self.secure(practitioner) as desk:
            await desk.refresh([practitioner.user_id])
            await desk.delegate(assistant.user_id, scope, expires)

    async def other_device(self, credentials: Credentials, *, approve: bool = True) -> Credentials:
        """The same user, logged in on another device that the first approved
        (unless ``approve`` is off: then it holds keys nobody vouched for)."""
        username = self.usernames[credentials.user_id]
        second = await login(self.base_url, username, PASSWORD, device_name="second")
        keys = Keystore.create(second.user_id, second.device_id, with_identity=False)
        self.keys[second.device_id] = keys
        if approve:
            async with self.secure(credentials) as first:
                await first.approve(keys.device.request(second.user_id))
        return second

    async def patient_thread(
        self, reason: str = "prescription_renewal"
    ) -> tuple[Credentials, Credentials, int]:
        """A new (verified) practitioner, a new patient of theirs, and the
        thread the patient opened for ``reason``."""
        doctor = await self.user("practitioner")
        patient = await self.user("patient")
        return doctor, patient, await self.thread_with(doctor, patient, reason)

    async def thread_with(
        self, doctor: Credentials, patient: Credentials, reason: str = "prescription_renewal"
    ) -> int:
        """The thread ``patient`` opens with ``doctor`` for ``reason``, once their patient."""
        await self.add_patient(doctor, patient)
        async with self.client(patient) as client:
            thread = await client.call(
                "threads.open",
                ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], reason),
            )
        return int(thread.id)

    def client(self, credentials: Credentials, *, url: str | None = None, **options: Any) -> Client:
        """A client of this server (through ``url`` if given: a relay)."""
        return Client(url or self.ws_url, credentials, **options)

    @contextlib.asynccontextmanager
    async def secure(
        self, credentials: Credentials, *, sender_keys_above: int | None = None, **options: Any
    ) -> AsyncIterator[Secure]:
        """A connected client with its device's end-to-end keys.
        ``sender_keys_above``: from how many devices it uses sender keys."""
        chosen = {} if sender_keys_above is None else {"sender_keys_above": sender_keys_above}
        async with self.client(credentials, **options) as client:
            yield Secure(client, self.keys[credentials.device_id], **chosen)

    def envelope(self, sender: Credentials, thread: int, members: list[int], text: str) -> Any:
        """An envelope sealed for every device of ``members`` (raw-socket tests)."""
        recipients = {
            keys.device.device: bytes(keys.device.enc.public_key)
            for keys in self.keys.values()
            if keys.user in members
        }
        return seal_envelope(
            Outgoing(thread, sender.user_id, Body(text=text), recipients),
            self.keys[sender.device_id].device,
        )

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def start_server(
    db: str, workdir: Path, log_level: str = "warning", port: int = 0, **settings: object
) -> RunningServer:
    """Start a server process (on ``port``, or a free one) and wait until
    /healthz answers."""
    port = port or free_port()
    settings = {
        "blob_dir": workdir / f"blobs-{port}",
        "push_key_file": workdir / "vapid.pem",  # shared by the nodes of one test
        # Every test client is on loopback: one source. test_hardening checks these limits.
        "logins_per_source_per_minute": 1e6,
        "registrations_per_source_per_hour": 1e6,
        **settings,
    }
    env = {**os.environ, **{f"CAREHUB_{k.upper()}": str(v) for k, v in settings.items()}}
    log = workdir / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server",
                "serve",
                "--db",
                db,
                "--port",
                str(port),
                "--log-level",
                log_level,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = RunningServer(db, port, process, log, env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                return server
        time.sleep(0.05)  # polling readiness: a process start has no event to await
    server.stop()
    raise RuntimeError(f"server did not become healthy:\n{server.log_tail()}")
