"""Durable events from storage to this node's sockets, in seq order, none skipped.

With several nodes, the broker (Redis pub/sub) may drop, repeat or reorder
deliveries, and two nodes' commits reach a third in either order. So a node
does not deliver durable events from the broker at all: a delivery with a
seq only wakes the ``Follower``, which reads the events from storage up to
the horizon (``storage.events.Horizon``: at or below it, every event is
final), pushes them in seq order, and only then raises ``Hub.delivered``.
A lost wake-up costs latency, never an event: the follower also reads on
its own every ``poll_seconds``. ``docs/architecture.md`` has the argument.

With one node (the in-memory broker) the writer's own publications are
already complete and in commit order, which is seq order: the hub delivers
them directly and this module is not used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from msgspec import Raw

from protocol.codec import encode_event, to_raw
from server.broker.base import Delivery
from server.convert import message_data
from server.hub import Hub
from storage.db import Database
from storage.errors import Unavailable
from storage.events import Events, Horizon, Membership, StoredEvent

__all__ = ["Follower", "event_data"]

log = logging.getLogger(__name__)

PAGE = 500  # events read per query
FIRST_RETRY_SECONDS = 0.002  # an unsettled horizon is probed again this soon, then less often


class Follower:
    def __init__(self, db: Database, hub: Hub, poll_seconds: float) -> None:
        self._db = db
        self._hub = hub
        self._horizon = Horizon()
        self._poll = poll_seconds
        self._retry = FIRST_RETRY_SECONDS
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Deliver from the present on: what is final now is history (resume)."""
        async with self._db.poll() as conn:
            self._hub.delivered = await self._horizon.probe(conn)
        self._hub.follow = self.wake
        self._task = asyncio.create_task(self._run(), name="stream-follower")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def wake(self) -> None:
        self._woken.set()

    async def _run(self) -> None:
        failing = False
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self._pause())
            self._woken.clear()
            try:
                await self.catch_up()
            except Unavailable as exc:
                if not failing:
                    log.warning("reading the event stream failed, trying again: %s", exc)
                failing = True
            except Exception:  # a bug or an unforeseen failure: the stream must go on
                if not failing:
                    log.exception("reading the event stream failed, trying again")
                failing = True
            else:
                failing = False

    def _pause(self) -> float:
        """How long to wait for a wake-up: a horizon waiting on open
        transactions is probed again soon, less often the longer it waits."""
        if not self._horizon.unsettled:
            self._retry = FIRST_RETRY_SECONDS
            return self._poll
        pause, self._retry = self._retry, min(self._retry * 2, self._poll)
        return pause

    async def catch_up(self) -> None:
        """Push every final event after ``Hub.delivered``, oldest first, up
        to the horizon as probed now."""
        while await self._step():
            pass

    async def _step(self) -> bool:
        """Push the next page of final events; whether a full page came (more
        may be final already). Each statement of ``Database.poll`` sees every
        commit before it, so the page holds every event up to the horizon
        just probed."""
        async with self._db.poll() as conn:
            horizon = await self._horizon.probe(conn)
            if horizon <= self._hub.delivered:
                return False
            page = await Events.between(conn, self._hub.delivered, horizon, PAGE)
            threads = {event.thread_id for event in page if event.thread_id is not None}
            members = await Events.memberships(conn, sorted(threads))
        # No await from here on: sockets registered before this point get
        # these events; those registered after replay up to ``delivered``.
        for event in page:
            self._hub.push(_delivery(event, members.get(event.thread_id or 0, [])))
        self._retry = FIRST_RETRY_SECONDS
        if len(page) == PAGE:
            self._hub.advance(page[-1].seq)
            return True
        self._hub.advance(horizon)
        return False


def _delivery(event: StoredEvent, members: list[Membership]) -> Delivery:
    recipients = {m.user_id for m in members if m.covers(event.seq)}
    if event.user_id is not None:
        recipients.add(event.user_id)
    sender = event.message.sender_device_id if event.message is not None else None
    return Delivery(
        recipients=sorted(recipients),
        frame=encode_event(event.type, event_data(event), event.seq),
        seq=event.seq,
        thread=event.thread_id,
        exclude_device=sender,
    )


def event_data(event: StoredEvent) -> Raw:
    """A stored event's data as its frame carries it."""
    if event.message is not None:
        return to_raw(message_data(event.message))
    return to_raw(None) if event.data is None else Raw(event.data)
