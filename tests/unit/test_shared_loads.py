"""``server.loads.SharedLoads``, and the directory's misses: a miss waits
for the read of the same entry already under way, unless an invalidation
came since it began; a caller cancelled or a read failing leaves the
others their answer."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest

from server.directory import Directory
from server.loads import SharedLoads


class Gate:
    """A read that counts its calls and answers when told."""

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.open = asyncio.Event()

    async def read(self, value: Any = "read") -> Any:
        self.calls.append(value)
        await self.open.wait()
        if isinstance(value, Exception):
            raise value
        return value


async def test_a_miss_joins_the_read_under_way() -> None:
    loads: SharedLoads[str] = SharedLoads()
    gate = Gate()
    first = asyncio.ensure_future(loads.load(1, 0, gate.read))
    second = asyncio.ensure_future(loads.load(1, 0, gate.read))
    other = asyncio.ensure_future(loads.load(2, 0, gate.read))
    await asyncio.sleep(0)
    gate.open.set()
    assert await asyncio.gather(first, second, other) == ["read", "read", "read"]
    assert len(gate.calls) == 2  # key 1 once, key 2 once
    await loads.load(1, 0, gate.read)  # done: a later miss reads again
    assert len(gate.calls) == 3


async def test_a_read_begun_before_an_invalidation_is_not_joined() -> None:
    loads: SharedLoads[str] = SharedLoads()
    gate = Gate()
    old = asyncio.ensure_future(loads.load(1, 0, lambda: gate.read("old")))
    await asyncio.sleep(0)
    new = asyncio.ensure_future(loads.load(1, 1, lambda: gate.read("new")))
    await asyncio.sleep(0)
    gate.open.set()
    assert (await old, await new) == ("old", "new")


async def test_a_cancelled_caller_leaves_the_read_to_the_others() -> None:
    loads: SharedLoads[str] = SharedLoads()
    gate = Gate()
    first = asyncio.ensure_future(loads.load(1, 0, gate.read))
    second = asyncio.ensure_future(loads.load(1, 0, gate.read))
    await asyncio.sleep(0)
    first.cancel()
    gate.open.set()
    assert await second == "read"
    assert first.cancelled() and len(gate.calls) == 1


async def test_every_caller_gets_the_reads_failure_and_the_next_miss_reads_again() -> None:
    loads: SharedLoads[str] = SharedLoads()
    gate = Gate()
    failing = [asyncio.ensure_future(loads.load(1, 0, lambda: gate.read(OSError()))) for _ in "ab"]
    await asyncio.sleep(0)
    gate.open.set()
    for caller in failing:
        with pytest.raises(OSError):
            await caller
    assert await loads.load(1, 0, gate.read) == "read"
    assert len(gate.calls) == 2


class Keys:
    """The store's device lists (user 3 published none), counting the reads."""

    def __init__(self) -> None:
        self.gate = Gate()

    async def lists(self, user_ids: Iterable[int]) -> dict[int, bytes]:
        await self.gate.read(sorted(user_ids))
        return {user: f"list of {user}".encode() for user in user_ids if user != 3}


async def test_a_directory_reads_a_users_missing_list_once_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("server.directory.decode_device_list", lambda signed: (0, signed.decode()))
    keys = Keys()
    directory = Directory(None, keys, None, None, None)  # type: ignore[arg-type]
    sends = [asyncio.ensure_future(directory.device_lists([1, 2])) for _ in range(5)]
    wider = asyncio.ensure_future(directory.device_lists([2, 3]))
    await asyncio.sleep(0)  # the callers start the reads' tasks
    await asyncio.sleep(0)  # which begin
    assert len(keys.gate.calls) == 2
    directory.forget_device_lists([1])  # a newer list: the reads under way may be older
    again = asyncio.ensure_future(directory.device_lists([1]))
    await asyncio.sleep(0)
    keys.gate.open.set()
    both = {1: "list of 1", 2: "list of 2"}
    assert await asyncio.gather(*sends) == [both] * 5  # the forgetting came after they asked
    assert await wider == {2: "list of 2"}
    assert await again == {1: "list of 1"}
    assert keys.gate.calls == [[1, 2], [3], [1]]
    assert await directory.device_lists([1, 2]) == both
    assert keys.gate.calls == [[1, 2], [3], [1], [2]]  # only the read after the forgetting kept
