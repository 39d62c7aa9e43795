"""Which devices get a push, and when (docs/push.md).

The push queue follows the durable event stream, as a reader would, on one
node at a time (the ``push`` lease). For each person's message it finds the
thread's other members who have not read it, and their subscribed devices
that have no open socket: those got nothing live. One push per device and
thread per batch (a round reads ``BATCH`` messages and appointment events
at a time until it has caught up: usually one batch, a round's worth),
saying the thread's unread count, goes into the notification outbox in
the same transaction that moves the queue's position, so a restart
neither loses nor repeats one; the outbox then hands each to the push
service, retrying the busy ones.

A message waits ``GRACE_MS`` before it is looked at: a round reads the
stream up to where it was a grace period ago (``PushProgress.settled``),
and stops before any message created since, whatever its node's clock.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from server.context import Context
from server.preferences import decode_preferences, is_quiet
from server.push_progress import GRACE_MS
from server.pushing import Notice, Outcome, PushSender
from server.reminders import NotificationGateway, deliver_notifications
from storage import PushTarget
from storage.push import AppointmentCandidate, NotifyState, PushCandidate
from storage.tx import WriteTx

__all__ = ["PUSH", "PushGateway", "push_round", "queue_pushes"]

log = logging.getLogger(__name__)
PUSH = "push"  # the outbox entries' kind
EMAIL = "email"
EMAIL_EVERY_MS = 3_600_000  # a patient is emailed at most hourly that messages wait
PREVIEW_MAX_BYTES = 2_800  # an envelope a push may carry: Web Push holds about 4 KB
BATCH = 500


@dataclass(frozen=True, slots=True)
class Push:
    """What a push says: the count, and the newest message (for a preview)."""

    count: int
    message: int | None = None


# (user, thread (0: none), kind) -> the push
Wanted = dict[tuple[int, int, str], Push]
# (user, thread) -> (how far they read, the newest message they have not)
Unread = dict[tuple[int, int], tuple[int, int]]


async def push_round(ctx: Context, gateway: PushGateway) -> None:
    """Queue what the messages since the last round call for, as far as
    the stream had reached a grace period ago, then hand the outbox over:
    what was just queued, and whatever else is due (what a node that died
    left behind, a retry whose time has come)."""
    await queue_pushes(ctx, ctx.clock.ms(), ctx.push.settled(ctx.hub.delivered))
    await deliver_notifications(ctx, gateway)


class PushDeferred(Exception):
    """The push service is busy or out of reach: the outbox tries again later."""


async def queue_pushes(ctx: Context, now: int, upto: int, batch: int = BATCH) -> int:
    """The pushes the events up to ``upto`` call for, ``batch`` events at a
    time (a transaction each) until it has caught up; how many. ``upto`` is
    final: nothing at or below it can still commit."""
    queued, more = 0, True
    while more:
        count, more = await _queue_batch(ctx, now, upto, batch)
        queued += count
    return queued


async def _queue_batch(ctx: Context, now: int, upto: int, batch: int) -> tuple[int, bool]:
    """The pushes of up to ``batch`` events; how many, and whether more are due."""
    if upto <= ctx.push.position:
        return 0, False  # nothing new since the last round: no transaction at all
    async with ctx.store.write() as tx:
        after = await tx.push.position()
        if after < 0:  # the first round ever: from now on, not the past
            await tx.push.advance(upto)
            ctx.push.position = upto
            return 0, False
        found = await tx.push.candidates(after, upto, batch)
        full = len(found) == batch
        done = _settled(upto, now, found, full)
        due = [candidate for candidate in found if candidate.seq <= done]
        queued = await _queue_due(ctx, tx, due, now)
        done = max(after, done)
        await tx.push.advance(done)
    ctx.push.position = done
    return queued, full and done == found[-1].seq


def _settled(
    upto: int, now: int, found: Sequence[PushCandidate | AppointmentCandidate], full: bool
) -> int:
    """How far this batch may go: not past an event still in its grace
    period, nor past a full batch's last (more may follow it)."""
    limit = found[-1].seq if full else upto
    young = next((c.seq for c in found if c.created_at > now - GRACE_MS), None)
    return limit if young is None else min(limit, young - 1)


async def _queue_due(
    ctx: Context, tx: WriteTx, due: list[PushCandidate | AppointmentCandidate], now: int
) -> int:
    """Queue the pushes and emails the due events call for; how many. Who
    can be reached is found first: most readers have the app open, and
    their unread counts are never read."""
    unread = await _unread_threads(tx, [c for c in due if isinstance(c, PushCandidate)])
    appointments = _appointment_pushes([c for c in due if isinstance(c, AppointmentCandidate)])
    users = sorted({user for user, _ in unread} | {user for user, _, _ in appointments})
    if not users:
        return 0
    reach = await _reach(ctx, tx, users, now)
    reachable = {(user, thread): v for (user, thread), v in unread.items() if reach.reaches(user)}
    wanted = await _message_pushes(tx, reachable)
    wanted.update(appointments)
    return await _enqueue(ctx, tx, wanted, reach, now)


async def _unread_threads(tx: WriteTx, found: list[PushCandidate]) -> Unread:
    """Each member who has not read a new message and has not muted its
    thread: where they read, and the newest message they have not."""
    if not found:
        return {}
    unread: Unread = {}
    readers = await tx.push.readers({candidate.thread_id for candidate in found})
    for candidate in found:
        thread = candidate.thread_id
        for user, reader in readers[thread].items():
            if user == candidate.sender_id or reader.muted:
                continue
            if reader.read_seq < candidate.thread_seq:
                unread[(user, thread)] = (reader.read_seq, candidate.message_id)
    return unread


async def _message_pushes(tx: WriteTx, unread: Unread) -> Wanted:
    """A push for each unread thread, with its unread count and newest message."""
    asked = [(thread, user, read_seq) for (user, thread), (read_seq, _) in unread.items()]
    counts = await tx.messages.unread_counts(asked)
    return {
        (user, thread, "message"): Push(count, unread[(user, thread)][1])
        for (thread, user, _), count in zip(asked, counts, strict=True)
        if count
    }


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
        wanted[key] = Push(wanted[key].count + 1 if key in wanted else 1)
    return wanted


@dataclass(frozen=True, slots=True)
class Reach:
    """How a round's users can be told now."""

    closed: dict[int, list[PushTarget]]  # user -> subscribed devices with no open socket
    subscribed: set[int]  # users with a subscribed device, open or not
    emailable: set[int]  # users with none whom an email may reach (``_emailable``)
    states: dict[int, NotifyState]

    def reaches(self, user: int) -> bool:
        """Whether a push or an email could reach ``user``."""
        return bool(self.closed[user]) or user in self.emailable


async def _reach(ctx: Context, tx: WriteTx, users: list[int], now: int) -> Reach:
    """Each user's subscribed devices with no socket on any node, and
    whether an email could reach those with no subscribed device."""
    targets = await tx.push.of_users(users)
    live = await ctx.presence.live_devices(users)
    states = await tx.push.notify_states(users)
    closed: dict[int, list[PushTarget]] = {user: [] for user in users}
    for target in targets:
        if target.device_id not in live:  # an open app received the event live
            closed[target.user_id].append(target)
    subscribed = {target.user_id for target in targets}
    emailable = {u for u in users if u not in subscribed and _emailable(states[u], now)}
    return Reach(closed, subscribed, emailable, states)


def _emailable(state: NotifyState, now: int) -> bool:
    """A patient with an address, not emailed within ``EMAIL_EVERY_MS``."""
    return (
        state.role == "patient"
        and decode_preferences(state.preferences).email is not None
        and (state.emailed_at or 0) <= now - EMAIL_EVERY_MS
    )


async def _enqueue(ctx: Context, tx: WriteTx, wanted: Wanted, reach: Reach, now: int) -> int:
    """One outbox entry per subscribed device with no open socket, per push
    wanted; an email to a patient whom no device of theirs can reach."""
    quiet = {
        user: is_quiet(decode_preferences(reach.states[user].preferences), now)
        for user in {user for user, _, _ in wanted}
    }
    queued = 0
    unreachable: dict[int, str] = {}  # user -> the kind of email
    for (user, thread, kind), push in sorted(wanted.items()):
        for target in reach.closed[user]:
            body: dict[str, Any] = {
                "device": target.device_id,
                "thread": thread,
                "count": push.count,
                "kind": kind,
                "quiet": quiet[user],
            }
            if target.preview and not quiet[user] and push.message is not None:
                body["message"] = push.message
            await tx.outbox.add(user, PUSH, json.dumps(body).encode(), now)
            queued += 1
        if user not in reach.subscribed and kind != "reminder":  # reminders have their own email
            unreachable.setdefault(user, "message" if thread else "appointment")
    return queued + await _email_unreachable(ctx, tx, unreachable, reach, now)


async def _email_unreachable(
    ctx: Context, tx: WriteTx, unreachable: dict[int, str], reach: Reach, now: int
) -> int:
    """An email, at most every ``EMAIL_EVERY_MS``, to a patient with an
    address, no subscribed device and none open: "a message waits"."""
    queued = 0
    for user in [user for user in unreachable if user in reach.emailable]:
        if await ctx.presence.live_devices([user]):
            continue  # an app of theirs is open: it received the message live
        body = {"kind": unreachable[user]}
        await tx.outbox.add(user, EMAIL, json.dumps(body).encode(), now)
        await tx.push.emailed(user, now)
        queued += 1
    return queued


class PushGateway:
    """Sends the outbox's pushes, each through its device's platform;
    anything else goes to ``other`` (email, SMS)."""

    def __init__(
        self, ctx: Context, senders: Mapping[str, PushSender], other: NotificationGateway
    ) -> None:
        self.ctx = ctx
        self.senders = senders
        self.other = other

    async def deliver(
        self, notification_id: int, user_id: int, kind: str, body: dict[str, Any]
    ) -> None:
        if kind != PUSH:
            return await self.other.deliver(notification_id, user_id, kind, body)
        target = await self.ctx.store.push.of_device(body["device"])
        sender = None if target is None else self.senders.get(target.platform)
        if target is None or sender is None:
            return None  # unsubscribed meanwhile, or the platform is no longer configured
        envelope = None
        if target.preview and "message" in body:
            envelope = await self.ctx.store.push.envelope(body["message"], PREVIEW_MAX_BYTES)
        notice = Notice(
            body["thread"], body["count"], body["kind"], body["quiet"], envelope, notification_id
        )
        result = await sender.send(target, notice)
        if result.outcome is Outcome.GONE:
            await self.ctx.store.push.gone(target.endpoint)
        elif result.outcome is Outcome.RETRY:
            raise PushDeferred(f"push service answered {result.status}")
        elif result.outcome is Outcome.REFUSED:
            log.warning("push %d refused by the push service: %s", notification_id, result.status)
        return None

    async def close(self) -> None:
        for sender in self.senders.values():
            await sender.close()
        close = getattr(self.other, "close", None)
        if close is not None:
            await close()
