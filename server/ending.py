"""Ending a background task for good.

``task.cancel()`` asks once, and a library may swallow the request:
redis-py does when it arrives in the middle of a command, and Python 3.11's
``asyncio.wait_for`` does when what it waits for completes in the same
instant. A loop that stop cancelled once would then go on, and the stop
would wait for it forever. A task still running a second after its cancel
is asked again (less often would hold a stop up; more often would cut into
the clean-up a task does as it ends, in its ``finally``)."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["ended"]

ASK_AGAIN_SECONDS = 1.0


async def ended(*tasks: asyncio.Future[Any] | None, every: float = ASK_AGAIN_SECONDS) -> None:
    """Cancel ``tasks`` (None is skipped) and wait until all have ended,
    cancelling again, ``every`` seconds, any that goes on."""
    running = {task for task in tasks if task is not None}
    while running := {task for task in running if not task.done()}:
        for task in running:
            task.cancel()
        await asyncio.wait(running, timeout=every)
