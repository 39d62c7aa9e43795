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
from collections.abc import Sequence
from typing import Any

import httpx
import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from server.context import Context
from server.pushing import Notice, Outcome, push
from server.reminders import NotificationGateway, deliver_notifications
from storage import PushSubscriptions, Threads
from storage.agenda import Agendas
from storage.push import AppointmentCandidate, PushCandidate

__all__ = ["PUSH", "PushGateway", "push_round", "queue_pushes"]

log = logging.getLogger(__name__)
PUSH = "push"  # the outbox entries' kind
GRACE_MS = 1_000
# (user, thread (0: none), kind) -> the count a push says
Wanted = dict[tuple[int, int, str], int]
BATCH = 500


async def push_round(ctx: Context, gateway: PushGateway) -> None:
    """Queue what the newest messages call for, then hand the outbox over."""
    queued = await queue_pushes(ctx, ctx.clock.ms())
    if queued:
        await deliver_notifications(ctx, gateway)


class PushDeferred(Exception):
    """The push service is busy or out of reach: the outbox tries again later."""


async def queue_pushes(ctx: Context, now: int) -> int:
    """One round: the pushes the newest events call for; how many."""
    upto = ctx.hub.delivered  # final: nothing at or below it can still commit
    if upto <= ctx.push_position:
        return 0  # nothing new since the last round: no transaction at all
    async with ctx.store.db.write() as conn:
        after = await PushSubscriptions.position(conn)
        if after < 0:  # the first round ever: from now on, not the past
            await PushSubscriptions.advance(conn, upto)
            ctx.push_position = upto
            return 0
        messages = await PushSubscriptions.candidates(conn, after, upto, BATCH)
        appointments = await PushSubscriptions.appointment_candidates(conn, after, upto, BATCH)
        done = _settled(upto, now, messages, appointments)
        wanted = await _message_pushes(conn, [m for m in messages if m.seq <= done])
        wanted.update(_appointment_pushes([a for a in appointments if a.seq <= done]))
        queued = await _enqueue(ctx, conn, wanted, now)
        done = max(after, done)
        await PushSubscriptions.advance(conn, done)
    ctx.push_position = done
    return queued


def _settled(upto: int, now: int, *found: Sequence[PushCandidate | AppointmentCandidate]) -> int:
    """How far this round may go: not past an event still in its grace
    period, nor past a full batch (more may follow it)."""
    limit = upto
    for candidates in found:
        if len(candidates) == BATCH:
            limit = min(limit, candidates[-1].seq)
        young = next((c.seq for c in candidates if c.created_at > now - GRACE_MS), None)
        if young is not None:
            limit = min(limit, young - 1)
    return limit


async def _message_pushes(conn: AsyncConnection, found: list[PushCandidate]) -> Wanted:
    """Each member who has not read a new message, with their unread count."""
    newest: dict[tuple[int, int], int] = {}  # (user, thread) -> newest unread thread_seq
    read: dict[int, dict[int, int]] = {}  # thread -> member -> read_seq, once per round
    for candidate in found:
        thread = candidate.thread_id
        if thread not in read:
            read[thread] = await Threads.read_seqs(conn, thread)
        for user, read_seq in read[thread].items():
            if user != candidate.sender_id and read_seq < candidate.thread_seq:
                newest[(user, candidate.thread_id)] = candidate.thread_seq
    wanted: Wanted = {}
    for user, thread in newest:
        record = await Threads.record(conn, thread, user)
        if record is not None and record.unread:
            wanted[(user, thread, "message")] = record.unread
    return wanted


def _appointment_pushes(found: list[AppointmentCandidate]) -> Wanted:
    """An appointment cancelled or moved, or a reminder: to the person whose
    event it is, unless they cancelled it themselves."""
    wanted: Wanted = {}
    for candidate in found:
        info = msgspec.msgpack.decode(candidate.data or b"\x80")
        if (
            candidate.type == "appointment.cancelled"
            and info.get("cancelled_by") == candidate.user_id
        ):
            continue
        kind = "reminder" if candidate.type == "appointment.reminder" else "appointment"
        key = (candidate.user_id, 0, kind)
        wanted[key] = wanted.get(key, 0) + 1
    return wanted


async def _enqueue(ctx: Context, conn: AsyncConnection, wanted: Wanted, now: int) -> int:
    """One outbox entry per subscribed device with no open socket, per push wanted."""
    users = sorted({user for user, _, _ in wanted})
    targets = await PushSubscriptions.of_users(conn, users)
    live = await ctx.presence.live_devices(users)
    queued = 0
    for (user, thread, kind), count in sorted(wanted.items()):
        for target in targets:
            if target.user_id != user or target.device_id in live:
                continue
            body = {"device": target.device_id, "thread": thread, "count": count, "kind": kind}
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
        notice = Notice(body["thread"], body["count"], body.get("kind", "message"))
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
