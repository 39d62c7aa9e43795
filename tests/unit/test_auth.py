"""Password hashing is bounded: a burst of logins waits in a short line, and
past it is refused at once, instead of each taking 64 MiB side by side."""

from __future__ import annotations

import asyncio

import pytest

from protocol.errors import ErrorCode
from server.auth import Passwords
from server.errors import ServerError


async def test_hashes_verify_and_an_unknown_user_costs_a_verification_too() -> None:
    passwords = Passwords()
    stored = await passwords.hash("correct horse battery")
    assert await passwords.verify(stored, "correct horse battery")
    assert not await passwords.verify(stored, "wrong horse battery")
    assert not await passwords.verify(None, "correct horse battery")  # a decoy was checked


async def test_past_the_line_a_hash_is_refused_at_once() -> None:
    passwords = Passwords(at_once=1, queue=2)
    first, second = (asyncio.create_task(passwords.hash(f"password {n}")) for n in range(2))
    await asyncio.sleep(0)  # both are now in line: one hashing, one waiting
    with pytest.raises(ServerError) as refused:
        await passwords.hash("one too many")
    assert refused.value.code == ErrorCode.RATE_LIMITED
    assert refused.value.details["retry_after_ms"] > 0
    await asyncio.gather(first, second)
    assert await passwords.verify(await passwords.hash("later"), "later")  # the line moved on
