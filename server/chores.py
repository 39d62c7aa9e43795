"""Chores: work one node of a deployment does every few seconds (pruning,
reminders, pushes), whichever node holds the chore's lease.

A round may outlast the lease (a backlog of pushes to send): its node keeps
renewing the lease while the round runs, so no other node starts the same
chore meanwhile. Should another node hold it after all (this one paused
past its lease), the round still runs to its end: the chores are safe
twice (see ``Leases``: entries are claimed one by one), whereas stopping a
round mid-way would repeat the attempt it was making.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from server.broker.shared import Leases
from server.ending import ended
from storage.errors import Unavailable

__all__ = ["repeat_while_held"]

log = logging.getLogger(__name__)

Work = Callable[[], Awaitable[object]]
# A lease lasts three rounds, and never less than this: a chore that runs
# every tenth of a second (pushes) must not lose its lease to a busy loop.
LEASE_MIN_SECONDS = 1.5


def _lease_seconds(seconds: float) -> float:
    """How long a chore that runs every ``seconds`` takes its lease for."""
    return max(seconds * 3, LEASE_MIN_SECONDS)


async def repeat_while_held(leases: Leases, name: str, seconds: float, work: Work) -> None:
    """Every ``seconds``, one round of ``work`` if this node holds lease
    ``name`` (taken for three rounds, at least ``LEASE_MIN_SECONDS``:
    another node takes over that soon if this one dies). Runs until
    cancelled."""
    while True:
        if await leases.hold(name, _lease_seconds(seconds)):
            await run_round(leases, name, seconds, work)
        await asyncio.sleep(seconds)


async def run_round(leases: Leases, name: str, seconds: float, work: Work) -> None:
    """One round, renewing the lease every ``seconds`` while it runs (until
    another node holds it). A failure is logged and the next round tries
    again; the store being down is one line, not a traceback."""
    task = asyncio.ensure_future(work())
    try:
        renewing = True
        while not (await asyncio.wait({task}, timeout=seconds))[0]:
            if renewing and not await leases.hold(name, _lease_seconds(seconds)):
                log.warning("%s: another node holds the lease; this round ends alone", name)
                renewing = False
    finally:
        await ended(task)  # this node stops, if it is not done
    if task.cancelled() or (failure := task.exception()) is None:
        return
    if isinstance(failure, Unavailable):  # one line: an outage must not flood the log
        log.warning("%s skipped: %s", name, failure)
    else:
        log.warning("%s failed", name, exc_info=failure)
