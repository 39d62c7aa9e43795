"""A chore's round renews its lease while it runs; one that lost it runs to
its end alone."""

from __future__ import annotations

import asyncio
import logging

import pytest

from server.chores import run_round
from storage.errors import Unavailable

ROUND = 0.01  # seconds between renewals: short, so that the tests are quick


class CountingLeases:
    """Holds the lease for the first ``held_for`` calls, then another node does."""

    def __init__(self, held_for: int = 1_000) -> None:
        self.held_for = held_for
        self.calls = 0
        self.asked = asyncio.Event()  # set at the first call
        self.renewed = asyncio.Event()  # set at the third call: renewed twice

    async def hold(self, name: str, seconds: float) -> bool:
        self.calls += 1
        self.asked.set()
        if self.calls >= 3:
            self.renewed.set()
        return self.calls <= self.held_for

    async def release(self, name: str) -> None:
        pass


async def test_a_long_round_renews_its_lease_and_runs_to_its_end() -> None:
    leases = CountingLeases()
    finished = []

    async def long_round() -> None:
        await leases.renewed.wait()
        finished.append(True)

    await asyncio.wait_for(run_round(leases, "push", ROUND, long_round), 10)
    assert finished == [True]
    assert leases.calls >= 3


async def test_a_round_that_lost_its_lease_runs_to_its_end_without_renewing() -> None:
    """Stopping it mid-way would repeat the attempt it was making; what it
    claimed is its own."""
    leases = CountingLeases(held_for=0)
    finished = []

    async def round_after_a_pause() -> None:
        await leases.asked.wait()
        await asyncio.sleep(ROUND * 5)  # renewal times pass: none is tried again
        finished.append(True)

    await asyncio.wait_for(run_round(leases, "push", ROUND, round_after_a_pause), 10)
    assert finished == [True]
    assert leases.calls == 1


async def test_a_failed_round_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def failing_round() -> None:
        raise ConnectionError("the store is down")

    with caplog.at_level(logging.WARNING, logger="server.chores"):
        await run_round(CountingLeases(), "reminders", ROUND, failing_round)
    assert "reminders failed" in caplog.text
    assert "the store is down" in caplog.text


async def test_a_round_while_the_store_is_down_logs_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def round_without_a_store() -> None:
        raise Unavailable("cannot reach the database: connection refused")

    with caplog.at_level(logging.WARNING, logger="server.chores"):
        await run_round(CountingLeases(), "push", ROUND, round_without_a_store)
    assert caplog.messages == ["push skipped: cannot reach the database: connection refused"]
    assert "Traceback" not in caplog.text


async def test_stopping_the_node_stops_its_round() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def endless_round() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    chore = asyncio.create_task(run_round(CountingLeases(), "push", 60, endless_round))
    await started.wait()
    chore.cancel()
    with pytest.raises(asyncio.CancelledError):
        await chore
    assert cancelled.is_set()
