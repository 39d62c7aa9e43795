"""Stopping a background task that swallows a cancel (``server.ending``)."""

from __future__ import annotations

import asyncio

from server.ending import ended

WAIT = 10  # seconds: a stop that hangs fails the test instead


async def swallows_a_cancel(swallowed: asyncio.Event) -> None:
    """Goes on after the first cancel, as redis-py may mid-command."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        swallowed.set()
    await asyncio.sleep(3600)


async def test_a_task_that_swallows_a_cancel_is_cancelled_again_until_it_ends() -> None:
    swallowed = asyncio.Event()
    stubborn = asyncio.create_task(swallows_a_cancel(swallowed))
    plain = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)  # both wait
    await asyncio.wait_for(ended(stubborn, None, plain, every=0.01), WAIT)
    assert swallowed.is_set()
    assert stubborn.cancelled() and plain.cancelled()


async def test_ended_tasks_are_left_as_they_ended() -> None:
    finished = asyncio.create_task(asyncio.sleep(0, "done"))
    await finished
    await ended(finished)
    assert finished.result() == "done"
