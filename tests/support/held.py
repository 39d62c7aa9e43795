"""A server's writer held (an in-process server's, ``clocked_server``):
the operations submitted meanwhile wait in its queue, and share its next
batch once released."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from server.writer import Writer

__all__ = ["held_writer"]


@contextlib.asynccontextmanager
async def held_writer(writer: Writer) -> AsyncIterator[Callable[[int], Awaitable[None]]]:
    """Hold ``writer`` with an operation that waits until the block ends.
    Yields ``submitted(n)``, which returns once ``n`` more operations have
    been submitted since the last call."""
    entered, release, submitted = asyncio.Event(), asyncio.Event(), asyncio.Semaphore(0)

    async def hold(tx: Any, out: Any) -> None:
        entered.set()
        await release.wait()

    holding = asyncio.create_task(writer.run(hold))
    await entered.wait()  # running alone: what comes next waits behind it
    run = writer.run

    async def counted(*args: Any, **kwargs: Any) -> Any:
        submitted.release()
        return await run(*args, **kwargs)

    async def wait_for(count: int) -> None:
        for _ in range(count):
            await submitted.acquire()

    writer.run = counted  # type: ignore[method-assign]
    try:
        yield wait_for
    finally:
        del writer.run  # the class's again
        release.set()
        await holding
