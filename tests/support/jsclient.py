"""A user of the JavaScript SDK, driven from a Python test: Node runs
``clients/web/tools/driver.mjs``, which takes one JSON command per line and
answers each (by id) with what the SDK returned or the error it threw."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.conftest import unavailable

WEB = Path(__file__).resolve().parents[2] / "clients" / "web"
DRIVER = WEB / "tools" / "driver.mjs"
LINE_LIMIT = 64 * 1024 * 1024  # one answer per line, documents included (as hex)

__all__ = ["JsError", "JsUser", "js_user"]


class JsError(Exception):
    """What the SDK threw: its class name, the wire's code and details."""

    def __init__(self, name: str, code: str | None, details: Any, text: str) -> None:
        super().__init__(f"{name}: {text}")
        self.name, self.code, self.details = name, code, details


def to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [from_json(item) for item in value]
    if isinstance(value, dict):
        if isinstance(value.get("$bytes"), str):
            return bytes.fromhex(value["$bytes"])
        return {key: from_json(item) for key, item in value.items()}
    return value


class JsUser:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._ids = itertools.count(1)
        self._answers: dict[int, asyncio.Future[Any]] = {}
        self._reader = asyncio.create_task(self._read())

    async def run(self, op: str, timeout: float = 30, **args: Any) -> Any:
        """Run one SDK operation in Node; its result, or ``JsError``."""
        command_id = next(self._ids)
        answer = self._answers[command_id] = asyncio.get_running_loop().create_future()
        line = json.dumps({"id": command_id, "op": op, **to_json(args)}) + "\n"
        assert self._process.stdin is not None
        self._process.stdin.write(line.encode())
        await self._process.stdin.drain()
        return await asyncio.wait_for(answer, timeout)

    async def _read(self) -> None:
        assert self._process.stdout is not None
        async for line in self._process.stdout:
            answer = json.loads(line)
            future = self._answers.pop(answer["id"])
            if future.done():  # the test stopped waiting for it
                continue
            if "error" in answer:
                future.set_exception(JsError(**answer["error"]))
            else:
                future.set_result(from_json(answer["ok"]))
        for future in self._answers.values():  # Node went away
            if not future.done():
                future.set_exception(JsError("Exited", None, None, "the driver exited"))

    async def stop(self) -> None:
        """Close its stdin: the driver exits (killed if it does not)."""
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), 10)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()
        await self._reader


@contextlib.asynccontextmanager
async def js_user() -> AsyncIterator[JsUser]:
    node = shutil.which("node")
    if node is None or not (WEB / "build" / "src" / "index.js").exists():
        unavailable("node and the built SDK (tests/run runs npm ci and the build)")
    assert node is not None
    process = await asyncio.create_subprocess_exec(
        node,
        str(DRIVER),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=LINE_LIMIT,
    )
    user = JsUser(process)
    try:
        yield user
    finally:
        await user.stop()
