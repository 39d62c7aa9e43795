"""Appointment reminders, and the notification outbox an email/SMS gateway
drains.

Each confirmed appointment has a reminder row per offset (24 h and 2 h
before, by default). ``send_due_reminders`` claims the due rows in the
writer's transaction that also stores each ``appointment.reminder`` event
and its outbox entry: a reminder is claimed once, ever (after a crash or a
restart, the ones that came due meanwhile go out then; none twice), on any
number of nodes, since the claim is a conditional UPDATE of its row.
``deliver_notifications`` hands the outbox to the gateway, at least once
(a gateway deduplicates by the entry's ``id``): each entry is claimed for
one attempt, so two nodes never hand over the same one at once, and a
failed entry waits for its own retry, further off each time, without
holding up the others. Entries go ``AT_ONCE`` at a time (a push service
answers in tens of milliseconds: one at a time, a node would send a few
dozen a second), each person's in the order they were queued.

With several nodes, one of them runs this at a time (the ``reminders``
lease); the claims keep it right if two ever do.
"""

from __future__ import annotations

import asyncio
import json
import logging
from functools import partial
from typing import Any, Protocol

from protocol.codec import to_raw
from server.context import Context
from server.convert import appointment_info
from server.writer import Outgoing
from storage.outbox import Notification
from storage.tx import WriteTx

__all__ = [
    "LoggingGateway",
    "NotificationGateway",
    "deliver_notifications",
    "remind",
    "send_due_reminders",
    "store_due_reminders",
]

log = logging.getLogger(__name__)
REMINDER = "appointment.reminder"
RETRY_FIRST_MS = 30_000  # after a failed attempt; doubled each time
RETRY_MAX_MS = 3_600_000
AT_ONCE = 8  # notifications claimed and in flight together, one person's in order


class NotificationGateway(Protocol):
    async def deliver(
        self, notification_id: int, user_id: int, kind: str, body: dict[str, Any]
    ) -> None:
        """Send one notification (email, SMS...); raise to have it retried."""


HIDDEN = frozenset({"token", "to"})  # what an outbox entry carries that a log must not


class LoggingGateway:
    """The gateway of a deployment without email or SMS: it logs (never a
    reset link's secret, nor the address a deleted account's email carries)."""

    async def deliver(
        self, notification_id: int, user_id: int, kind: str, body: dict[str, Any]
    ) -> None:
        shown = {key: "(hidden)" if key in HIDDEN else value for key, value in body.items()}
        log.info("notification %d for user %d: %s %s", notification_id, user_id, kind, shown)


async def send_due_reminders(ctx: Context, now: int, limit: int = 500) -> int:
    """Send the reminders due at ``now``; how many went out."""
    return await ctx.writer.run(partial(store_due_reminders, now, limit))


async def store_due_reminders(now: int, limit: int, tx: WriteTx, out: list[Outgoing]) -> int:
    """Claim up to ``limit`` reminders due at ``now`` and store the events
    and outbox entries of those still to send; how many."""
    sent = 0
    for appointment_id, offset in await tx.appointments.claim_due_reminders(now, limit):
        record = await tx.appointments.get(appointment_id)
        if record is None or record.status != "confirmed" or record.starts_at <= now:
            continue  # cancelled, or begun while we were down: claimed, not sent
        info = appointment_info(record)
        patient = record.patient_id
        out.append(Outgoing(REMINDER, to_raw(info), [patient], user_id=patient))
        body = {
            "appointment": record.id,
            "practitioner": record.practitioner_id,
            "starts_at": record.starts_at,
            "minutes_before": offset,
        }
        await tx.outbox.add(patient, REMINDER, json.dumps(body).encode(), now)
        sent += 1
    return sent


async def deliver_notifications(
    ctx: Context, gateway: NotificationGateway, limit: int = 500
) -> int:
    """Hand due notifications to the gateway, ``AT_ONCE`` at a time; how
    many it took."""
    delivered = 0
    claim_ms = int(ctx.settings.notification_claim_seconds * 1000)  # one attempt's time
    for _ in range(-(-limit // AT_ONCE)):
        now = ctx.clock.ms()
        entries = await ctx.store.outbox.claim(now, claim_ms, AT_ONCE)
        if not entries:
            break
        by_user: dict[int, list[Notification]] = {}
        for entry in entries:
            by_user.setdefault(entry.user_id, []).append(entry)
        outcomes = await asyncio.gather(*(_attempt(gateway, mine) for mine in by_user.values()))
        done = {entry for attempted in outcomes for entry in attempted}
        await ctx.store.outbox.delivered(sorted(done), ctx.clock.ms())
        delivered += len(done)
        for entry in entries:
            if entry.id not in done:
                retry_in = min(RETRY_FIRST_MS << (entry.attempt - 1), RETRY_MAX_MS)
                await ctx.store.outbox.retry_at(entry.id, now + retry_in)
    return delivered


async def _attempt(gateway: NotificationGateway, entries: list[Notification]) -> list[int]:
    """One person's entries, one after the other (so that a later count is
    never overtaken by an earlier one): the ids of those delivered."""
    done: list[int] = []
    for entry in entries:
        try:
            await gateway.deliver(entry.id, entry.user_id, entry.kind, json.loads(entry.body))
        except Exception:
            log.warning(
                "notification %d: attempt %d failed", entry.id, entry.attempt, exc_info=True
            )
        else:
            done.append(entry.id)
    return done


async def remind(ctx: Context, gateway: NotificationGateway) -> None:
    """One round of the scheduler: send what is due, drain the outbox."""
    sent = await send_due_reminders(ctx, ctx.clock.ms())
    if sent:
        log.info("sent %d appointment reminders", sent)
    await deliver_notifications(ctx, gateway)
