"""Which devices get a push, and when (docs/push.md).

The push queue follows the durable event stream, as a reader would, on one
node at a time (the ``push`` lease). For each person's message it finds the
thread's other members who have not read it, and their subscribed devices
that have no open socket: those got nothing live. One push per device and
thread per round (a second's worth of messages), saying the thread's unread
count, goes into the notification outbox in the same transaction that moves
the queue's position, so a restart neither loses nor repeats one; the
outbox then hands each to the push service, retrying the busy ones.

A message waits ``GRACE_MS`` before it is looked at: long enough for an
open app to have received it and read it (its read receipt then spares the
push), short enough to reach a pocket at once.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from server.context import Context
from server.pushing import Notice, Outcome, push
from server.reminders import NotificationGateway, deliver_notifications
from storage import PushSubscriptions, Threads
from storage.agenda import Agendas

__all__ = ["PUSH", "PushGateway", "push_round", "queue_pushes"]

log = logging.getLogger(__name__)
PUSH = "push"  # the outbox entries' kind
GRACE_MS = 1_000
BATCH = 500


async def push_round(ctx: Context, gateway: PushGateway) -> None:
    """Queue what the newest messages call for, then hand the outbox over."""
    queued = await queue_pushes(ctx, ctx.clock.ms())
    if queued:
        await deliver_notifications(ctx, gateway)


class PushDeferred(Exception):
    """The push service is busy or out of reach: the outbox tries again later."""


async def queue_pushes(ctx: Context, now: int) -> int:
    """One round: the pushes the messages of the last events call for; how many."""
    upto = ctx.hub.delivered  # final: nothing at or below it can still commit
    if upto <= ctx.push_position:
        return 0  # nothing new since the last round: no transaction at all
    async with ctx.store.db.write() as conn:
        after = await PushSubscriptions.position(conn)
        if after < 0:  # the first round ever: from now on, not the past
            await PushSubscriptions.advance(conn, upto)
            ctx.push_position = upto
            return 0
        found = await PushSubscriptions.candidates(conn, after, upto, BATCH)
        ready = [c for c in found if c.created_at <= now - GRACE_MS]
        young = found[len(ready)] if len(ready) < len(found) else None
        unread: dict[tuple[int, int], int] = {}  # (user, thread) -> newest unread thread_seq
        for candidate in ready:
            for user, read_seq in (await Threads.read_seqs(conn, candidate.thread_id)).items():
                if user != candidate.sender_id and read_seq < candidate.thread_seq:
                    unread[(user, candidate.thread_id)] = candidate.thread_seq
        queued = await _enqueue(ctx, conn, unread, now)
        done = young.seq - 1 if young else (found[-1].seq if len(found) == BATCH else upto)
        await PushSubscriptions.advance(conn, max(after, done))
    ctx.push_position = max(after, done)
    return queued


async def _enqueue(
    ctx: Context, conn: AsyncConnection, unread: dict[tuple[int, int], int], now: int
) -> int:
    users = {user for user, _ in unread}
    targets = await PushSubscriptions.of_users(conn, users)
    live = await ctx.presence.live_devices(sorted(users))
    queued = 0
    for (user, thread), _ in sorted(unread.items()):
        record = await Threads.record(conn, thread, user)
        count = record.unread if record else 1
        for target in targets:
            if target.user_id != user or target.device_id in live or count == 0:
                continue
            body = {"device": target.device_id, "thread": thread, "count": count}
            await Agendas.to_outbox(conn, user, PUSH, json.dumps(body).encode(), now)
            queued += 1
    return queued


class PushGateway:
    """Sends the outbox's pushes; anything else goes to ``other`` (email, SMS)."""

    def __init__(self, ctx: Context, other: NotificationGateway) -> None:
        self.ctx = ctx
        self.other = other
        self.http = httpx.AsyncClient(follow_redirects=False)

    async def deliver(
        self, notification_id: int, user_id: int, kind: str, body: dict[str, Any]
    ) -> None:
        if kind != PUSH:
            return await self.other.deliver(notification_id, user_id, kind, body)
        target = await self.ctx.store.push.of_device(body["device"])
        if target is None:
            return None  # unsubscribed meanwhile
        notice = Notice(body["thread"], body["count"])
        contact = self.ctx.settings.push_contact
        result = await push(self.http, self.ctx.vapid, contact, target, notice)
        if result.outcome is Outcome.GONE:
            await self.ctx.store.push.gone(target.endpoint)
        elif result.outcome is Outcome.RETRY:
            raise PushDeferred(f"push service answered {result.status}")
        elif result.outcome is Outcome.REFUSED:
            log.warning("push %d refused by the push service: %s", notification_id, result.status)
        return None

    async def close(self) -> None:
        await self.http.aclose()
