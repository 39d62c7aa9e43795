"""The load generator: worker processes, each holding a share of the links,
driven step by step by the coordinator over a pipe.

Publishing is open-loop: message *k* of a step is due at ``start + k/rate``
whatever happened to the others, and carries that due time as its stamp, so
a server (or a generator) that falls behind shows up as latency instead of
silently lowering the offered load (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from array import array
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from benchmarks.adapters import Endpoint, Recorder, open_link
from benchmarks.plan import Link, Stamp

__all__ = ["Assignment", "StepOrder", "WorkerError", "worker_main"]

OPEN_CONCURRENCY = 64  # connection attempts in flight per worker
RESUME_TIMEOUT = 120.0  # seconds for a resuming link to catch up


class WorkerError(RuntimeError):
    """A worker failed; raised in the coordinator in place of the answer."""


@dataclass(frozen=True, slots=True)
class Assignment:
    link: Link
    endpoint: Endpoint


@dataclass(frozen=True, slots=True)
class StepOrder:
    step: int
    rate: float  # messages/s over this worker's publishing links
    seconds: float
    start_ns: int  # monotonic


def worker_main(pipe: Connection, cpu: int | None, adapter: str, payload_size: int) -> None:
    """Entry point of a worker process."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    import uvloop

    uvloop.run(_Worker(pipe, adapter, payload_size).serve())


class _Worker:
    def __init__(self, pipe: Connection, adapter: str, payload_size: int) -> None:
        self.pipe = pipe
        self.adapter = adapter
        self.payload_size = payload_size
        self.recorder = Recorder(time.monotonic_ns)
        self.links: list[Any] = []
        self.publishers: list[tuple[Link, Any]] = []
        self.listeners: list[tuple[Assignment, Any]] = []  # links that do not publish
        self.offline: list[tuple[Assignment, int]] = []  # closed links and their cursors

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            command, argument = await loop.run_in_executor(None, self.pipe.recv)
            if command == "close":
                for link in self.links:
                    link.close()
                self.pipe.send(None)
                return
            handler = getattr(self, f"on_{command}")
            try:
                self.pipe.send(await handler(argument))
            except Exception as error:
                self.pipe.send(WorkerError(f"{command}: {error!r}"))
                raise

    async def on_open(self, assignments: list[Assignment]) -> dict[str, Any]:
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)
        started = time.monotonic()

        async def one(assignment: Assignment) -> None:
            async with gate:
                link = await open_link(
                    self.adapter, assignment.endpoint, self.recorder, self.payload_size
                )
            self.links.append(link)
            if assignment.link.publishes:
                await link.prepare()
                self.publishers.append((assignment.link, link))
            else:
                self.listeners.append((assignment, link))

        results = await asyncio.gather(*(one(a) for a in assignments), return_exceptions=True)
        failures = [repr(r) for r in results if isinstance(r, BaseException)]
        return {
            "opened": len(assignments) - len(failures),
            "failures": failures[:5],
            "failed": len(failures),
            "seconds": time.monotonic() - started,
        }

    async def on_step(self, order: StepOrder) -> dict[str, Any]:
        """Publish for one step; returns how much was sent and should arrive
        (deliveries, and acks from a target that acknowledges)."""
        sent = expected = acks = 0
        by_link: dict[int, int] = {}
        if not self.publishers or order.rate <= 0:
            return {"sent": 0, "expected": 0, "acks": 0, "by_link": by_link}
        interval_ns = 1e9 / order.rate
        total = int(order.rate * order.seconds)
        clock = time.monotonic_ns
        for k in range(total):
            due = order.start_ns + int(k * interval_ns)
            ahead = due - clock()
            if ahead > 0:
                await asyncio.sleep(ahead / 1e9)
            spec, link = self.publishers[k % len(self.publishers)]
            if not link.alive:
                continue
            link.publish(Stamp(due, order.step, spec.index, k))
            sent += 1
            expected += spec.fanout
            acks += link.acknowledges
            by_link[spec.index] = by_link.get(spec.index, 0) + 1
        return {"sent": sent, "expected": expected, "acks": acks, "by_link": by_link}

    async def on_go_offline(self, _: None) -> int:
        """Close every link that does not publish, remembering its cursor."""
        for assignment, link in self.listeners:
            self.offline.append((assignment, link.cursor))
            link.close()
            self.links.remove(link)
        self.listeners.clear()
        return len(self.offline)

    async def on_resume(self, want: dict[int, int]) -> dict[str, Any]:
        """Reconnect every offline link at once, each resuming from its cursor,
        and wait until each has received the ``want[link]`` messages it missed."""
        started = time.monotonic()

        async def one(assignment: Assignment, cursor: int) -> tuple[float, float, Any]:
            endpoint = dataclasses.replace(assignment.endpoint, resume_from=cursor)
            link = await open_link(self.adapter, endpoint, self.recorder, self.payload_size)
            connected = time.monotonic()
            done = await link.wait_caught_up(want.get(assignment.link.index, 0), RESUME_TIMEOUT)
            self.links.append(link)
            self.listeners.append((assignment, link))
            return connected - started, done - started, link

        outcomes = await asyncio.gather(
            *(one(a, cursor) for a, cursor in self.offline), return_exceptions=True
        )
        self.offline.clear()
        finished = [o for o in outcomes if not isinstance(o, BaseException)]
        received = sum(len(link.messages) for *_, link in finished)
        unique = sum(len(set(link.messages)) for *_, link in finished)
        return {
            "links": len(outcomes),
            "failed": [repr(o) for o in outcomes if isinstance(o, BaseException)][:5],
            "connected_s": [c for c, _, _ in finished],
            "caught_up_s": [d for _, d, _ in finished],
            "received": received,
            "duplicates": received - unique,
        }

    async def on_count(self, step: int) -> tuple[int, int]:
        """Deliveries and acknowledgements of ``step`` so far."""
        recorder = self.recorder
        return len(recorder.latency.get(step, ())), len(recorder.acks.get(step, ()))

    async def on_report(self, step: int) -> dict[str, Any]:
        recorder = self.recorder
        report = {
            "latency": array("q", recorder.latency.pop(step, [])).tobytes(),
            "acks": array("q", recorder.acks.pop(step, [])).tobytes(),
            "errors": dict(recorder.errors),
            "closes": dict(recorder.closes),
            "disconnected": sum(not link.alive for link in self.links),
        }
        recorder.errors.clear()
        recorder.closes.clear()
        return report
