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
from time import monotonic

from protocol.codec import encode_event
from server.broker.base import Delivery
from server.convert import event_data
from server.ending import ended
from server.hub import Hub
from storage.db import Database
from storage.errors import Unavailable
from storage.events import EventTx, Horizon, Membership, StoredEvent, require_one_seq_at_a_time

__all__ = ["Follower"]

log = logging.getLogger(__name__)

PAGE = 500  # events read per query
FIRST_RETRY_SECONDS = 0.002  # an unsettled horizon is probed again this soon, then less often
STEP_TIMEOUT_SECONDS = 10.0  # a read of the stream that takes longer is abandoned and retried
LOG_EVERY_SECONDS = 60.0  # while reading fails, one warning a minute


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
        """Deliver from the present on: what is final when the node starts is
        history (resume). Waits until every seq taken before the start is
        final, so a transaction open at the start cannot fall behind it."""
        async with self._db.poll() as conn:
            await require_one_seq_at_a_time(conn)
            await self._horizon.probe(conn)
        taken = self._horizon.newest
        while self._horizon.final < taken:
            await asyncio.sleep(FIRST_RETRY_SECONDS)
            async with self._db.poll() as conn:
                await self._horizon.probe(conn)
        self._hub.advance(self._horizon.final)
        self._hub.follow = self.wake
        self._task = asyncio.create_task(self._run(), name="stream-follower")

    async def stop(self) -> None:
        await ended(self._task)

    def wake(self) -> None:
        self._woken.set()

    async def _run(self) -> None:
        failing_since: float | None = None
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._pause()):  # wait_for may swallow a cancel
                    await self._woken.wait()
            self._woken.clear()
            try:
                await self.catch_up()
            except Exception as exc:  # the store, or a bug: the stream must go on
                failing_since = self._failed(exc, failing_since)
            else:
                if failing_since is not None:
                    log.warning("reading the event stream works again")
                failing_since = None

    @staticmethod
    def _failed(exc: Exception, since: float | None) -> float:
        """Log a failure to read the stream: the first, then one a minute."""
        now = monotonic()
        if since is None or now - since >= LOG_EVERY_SECONDS:
            detail = exc if isinstance(exc, Unavailable | TimeoutError) else None
            log.warning(
                "reading the event stream failed, trying again: %s",
                detail or type(exc).__name__,
                exc_info=detail is None,
            )
            return now
        return since

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
        just probed. A database that stops answering fails the step (its
        connection is dropped) instead of hanging it."""
        async with asyncio.timeout(STEP_TIMEOUT_SECONDS), self._db.poll() as conn:
            horizon = await self._horizon.probe(conn)
            if horizon <= self._hub.delivered:
                return False
            page = await EventTx(conn).between(self._hub.delivered, horizon, PAGE)
            threads = {event.thread_id for event in page if event.thread_id is not None}
            members = await EventTx(conn).memberships(sorted(threads), self._hub.delivered)
        # No await from here on: sockets registered before this point get
        # these events; those registered after replay up to ``delivered``.
        # All are built before any is pushed: one that fails pushes none.
        deliveries = [d for e in page if (d := self._delivery(e, members)) is not None]
        for delivery in deliveries:
            self._hub.push(delivery)
        self._retry = FIRST_RETRY_SECONDS
        full = len(page) == PAGE
        self._hub.advance(page[-1].seq if full else horizon)
        return full

    def _delivery(
        self, event: StoredEvent, members: dict[int, list[Membership]]
    ) -> Delivery | None:
        """The event's delivery, or None if none of its recipients has a socket here."""
        windows = members.get(event.thread_id, []) if event.thread_id is not None else []
        recipients = {m.user_id for m in windows if m.covers(event.seq)}
        if event.user_id is not None:
            recipients.add(event.user_id)
        if not self._hub.reaches(recipients):
            return None
        sender = event.message.sender_device_id if event.message is not None else None
        return Delivery(
            recipients=sorted(recipients),
            frame=encode_event(event.type, event_data(event), event.seq),
            seq=event.seq,
            thread=event.thread_id,
            exclude_device=sender,
        )
