"""An account deleted by its owner: the rows that were theirs alone go, in
the deletion's transaction (``docs/accounts.md``, "Deleting an account").

What stays is what others and the law keep: the messages and documents in
the other members' copies (until the chat retention: ``storage.retention``)
with the public keys that verify them (the signed device list, the sender
keys), both audit trails, past appointments, relatives' consent records, and the
``users`` row as a tombstone, since its id is in all of those. The tombstone
keeps the name the others knew, so their conversations still say who wrote.
It loses everything that signs in or reaches the person.
"""

from __future__ import annotations

import json

from sqlalchemy import ColumnElement, Table, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.account_audit import SECURITY, record
from storage.accounts import end_sessions
from storage.schema import (
    agenda_exceptions,
    agendas,
    broadcast_opt_outs,
    care_invitations,
    care_relations,
    devices,
    events,
    inboxes,
    notification_outbox,
    notify_preferences,
    password_resets,
    push_subscriptions,
    recovery_codes,
    rule_firings,
    rules,
    sender_key_wraps,
    sent_counts,
    templates,
    users,
)

__all__ = ["DELETED", "ERASED", "ErasureTx", "owned_rows"]

DELETED = "deleted"  # the account trail's line, and the email it sends


def owned_rows(user_id: int) -> list[tuple[Table, ColumnElement[bool]]]:
    """Each table's rows that are the user's alone, in an order the foreign
    keys allow."""
    own_devices = select(devices.c.id).where(devices.c.user_id == user_id)
    own_rules = select(rules.c.id).where(rules.c.practitioner_id == user_id)
    return [
        # Group keys sealed for their devices to read with. Their signed device
        # list and their own sender keys stay: the others verify and open what
        # they wrote with them (and, out of every thread, nobody seals for them).
        (sender_key_wraps, sender_key_wraps.c.device_id.in_(own_devices)),
        (push_subscriptions, push_subscriptions.c.user_id == user_id),
        (notify_preferences, notify_preferences.c.user_id == user_id),
        (recovery_codes, recovery_codes.c.user_id == user_id),
        (password_resets, password_resets.c.user_id == user_id),
        (notification_outbox, notification_outbox.c.user_id == user_id),
        (
            care_invitations,
            or_(
                care_invitations.c.practitioner_id == user_id,
                care_invitations.c.patient_id == user_id,
            ),
        ),
        (
            care_relations,
            or_(
                care_relations.c.practitioner_id == user_id,
                care_relations.c.patient_id == user_id,
            ),
        ),
        (
            broadcast_opt_outs,
            or_(
                broadcast_opt_outs.c.practitioner_id == user_id,
                broadcast_opt_outs.c.patient_id == user_id,
            ),
        ),
        (
            sent_counts,
            or_(sent_counts.c.sender_id == user_id, sent_counts.c.recipient_id == user_id),
        ),
        (inboxes, inboxes.c.practitioner_id == user_id),
        (rule_firings, rule_firings.c.rule_id.in_(own_rules)),
        (rules, rules.c.practitioner_id == user_id),
        (templates, templates.c.owner_id == user_id),
        (agenda_exceptions, agenda_exceptions.c.practitioner_id == user_id),
        (agendas, agendas.c.practitioner_id == user_id),
        (events, events.c.user_id == user_id),  # their stream: copies of what they received
    ]


ERASED = tuple(table.name for table, _ in owned_rows(0))  # what goes, for the docs and the tests


class ErasureTx:
    """An account's deletion inside one write transaction (``WriteTx.erasure``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def erase(self, user_id: int, now: int) -> list[bytes] | None:
        """Delete what was the user's alone, end every session and leave the
        tombstone; the ended sessions' token hashes (None: no such account,
        or deleted already). The owner is told at the recovery address, if
        they gave one, which the email carries: the account forgets it."""
        email = await self.conn.scalar(
            select(users.c.email).where(users.c.id == user_id, users.c.deleted_at.is_(None))
        )
        tombstone = await self.conn.execute(
            update(users)
            .where(users.c.id == user_id, users.c.deleted_at.is_(None))
            .values(
                # The name is free again. The tombstone's cannot be registered
                # (protocol.http.Username has no "#"): nobody can take it first.
                username=f"#deleted-{user_id}",
                password_hash="!",  # no password hashes to it
                email=None,
                birth_date=None,
                totp_secret=None,
                totp_pending=None,
                rpps=None,
                verified_at=None,  # no patient finds or writes to them any more
                deactivated_at=now,
                deleted_at=now,
            )
        )
        if tombstone.rowcount != 1:
            return None
        ended = await end_sessions(self.conn, user_id, now, keep=None)
        for table, rows in owned_rows(user_id):
            await self.conn.execute(delete(table).where(rows))
        await record(self.conn, user_id, now, DELETED, actor=user_id)
        if email is not None:
            body = json.dumps({"action": DELETED, "to": email}).encode()
            values = {"user_id": user_id, "kind": SECURITY, "body": body, "created_at": now}
            await self.conn.execute(insert(notification_outbox).values(**values))
        return ended
