"""A write transaction, named: what runs inside it is reached through it.

``Store.write()`` yields a ``WriteTx``; each domain's statements that run in
the caller's transaction (locking reads, inserts, updates) are methods of
its ``tx.<domain>`` writer, while the repositories on ``Store`` open a
transaction of their own for each call (reads, single writes). So a line
that says ``tx.messages.append(...)`` is visibly part of the caller's
transaction, and ``ctx.store.messages.history(...)`` visibly is not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from storage.account_audit import AccountAuditTx
from storage.agenda import AgendaTx
from storage.appointments import AppointmentTx
from storage.audit import AuditTx
from storage.db import ConsecutiveWrites, Database
from storage.delegations import DelegationTx
from storage.erasure import ErasureTx
from storage.events import EventTx
from storage.keys import KeyTx
from storage.messages import KnownMembers, MessageTx
from storage.outbox import OutboxTx
from storage.practice import PracticeTx
from storage.push import PushTx
from storage.relatives import RelativeTx
from storage.rules import RuleTx
from storage.threads import ThreadTx

__all__ = ["WriteTx", "write_tx"]


class WriteTx:
    """One write transaction, by domain."""

    __slots__ = (
        "account_audit",
        "agendas",
        "ahead",
        "appointments",
        "audit",
        "connection",
        "delegations",
        "erasure",
        "events",
        "keys",
        "messages",
        "outbox",
        "practices",
        "push",
        "relatives",
        "rules",
        "threads",
    )

    def __init__(self, conn: AsyncConnection) -> None:
        self.connection = conn  # the driver's: for tests of the writer, never for handlers
        # What reads made ahead for several operations answered, by key
        # (``server.writer.ReadAhead``): each taken by its operation, once.
        self.ahead: dict[Hashable, Any] = {}
        self.account_audit = AccountAuditTx(conn)
        self.agendas = AgendaTx(conn)
        self.appointments = AppointmentTx(conn)
        self.audit = AuditTx(conn)
        self.delegations = DelegationTx(conn)
        self.erasure = ErasureTx(conn)
        self.events = EventTx(conn)
        self.keys = KeyTx(conn)
        known = KnownMembers(conn)  # SQLite: a thread's members between its sends
        self.messages = MessageTx(conn, known)
        self.outbox = OutboxTx(conn)
        self.practices = PracticeTx(conn)
        self.relatives = RelativeTx(conn)
        self.push = PushTx(conn)
        self.rules = RuleTx(conn)
        self.threads = ThreadTx(conn, known)


@asynccontextmanager
async def write_tx(db: Database | ConsecutiveWrites) -> AsyncIterator[WriteTx]:
    """A write transaction on ``db``: commits on success, rolls back on error."""
    async with db.write() as conn:
        tx = WriteTx(conn)
        yield tx
        await tx.audit.flush()
