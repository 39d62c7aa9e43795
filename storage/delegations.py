"""Delegations as the server enforces them: the index of the delegates each
practitioner named in their signed device list, kept in step on every
``keys.publish`` and trimmed when a practice no longer joins the two."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, exists, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.schema import delegations, practice_members

__all__ = ["DelegationRecord", "Delegations", "Grant"]


@dataclass(frozen=True, slots=True)
class Grant:
    scope: str  # as signed: ``protocol.e2e.Scope`` words joined by dots
    reads: bool  # the scope has ``read``
    expires: int | None


@dataclass(frozen=True, slots=True)
class DelegationRecord:
    principal_id: int
    delegate_id: int
    grant: Grant
    granted_seq: int


_COLUMNS = (
    delegations.c.principal_id,
    delegations.c.delegate_id,
    delegations.c.scope,
    delegations.c.reads,
    delegations.c.expires,
    delegations.c.granted_seq,
)


def _record(row: tuple[int, int, str, bool, int | None, int]) -> DelegationRecord:
    principal, delegate, scope, reads, expires, granted_seq = row
    return DelegationRecord(principal, delegate, Grant(scope, bool(reads), expires), granted_seq)


class Delegations:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def to(self, delegate_id: int) -> list[DelegationRecord]:
        """The delegations ``delegate_id`` received."""
        return await self._where(delegations.c.delegate_id == delegate_id)

    async def by(self, principal_id: int) -> list[DelegationRecord]:
        """The delegations ``principal_id`` gave."""
        return await self._where(delegations.c.principal_id == principal_id)

    async def _where(self, condition: ColumnElement[bool]) -> list[DelegationRecord]:
        query = select(*_COLUMNS).where(condition).order_by(*_COLUMNS[:2])
        async with self.db.read() as conn:
            return [_record(row) for row in (await conn.execute(query)).all()]


class DelegationTx:
    """Delegations inside one write transaction (``WriteTx.delegations``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def replace(
        self, principal_id: int, wanted: Mapping[int, Grant], at_seq: int
    ) -> dict[int, Grant | None]:
        """Make ``principal_id``'s delegations ``wanted`` (by delegate).
        Returns the ones that changed, with None for those that ended. A
        delegate who starts reading replays the principal's events after
        ``at_seq``; one who already read keeps their start."""
        query = select(*_COLUMNS).where(delegations.c.principal_id == principal_id)
        current = {r.delegate_id: r for r in map(_record, (await self.conn.execute(query)).all())}
        changed: dict[int, Grant | None] = {user: None for user in current.keys() - wanted.keys()}
        if changed:
            await self.conn.execute(
                delete(delegations).where(
                    delegations.c.principal_id == principal_id,
                    delegations.c.delegate_id.in_(changed),
                )
            )
        for user, grant in wanted.items():
            before = current.get(user)
            if before is not None and before.grant == grant:
                continue
            changed[user] = grant
            values = {"scope": grant.scope, "reads": grant.reads, "expires": grant.expires}
            if before is None:
                await self.conn.execute(
                    insert(delegations).values(
                        principal_id=principal_id, delegate_id=user, granted_seq=at_seq, **values
                    )
                )
                continue
            if grant.reads and not before.grant.reads:
                values["granted_seq"] = at_seq
            await self.conn.execute(
                update(delegations)
                .where(
                    delegations.c.principal_id == principal_id, delegations.c.delegate_id == user
                )
                .values(**values)
            )
        return changed

    async def drop_unshared(self, user_id: int) -> list[DelegationRecord]:
        """End the delegations given or received by ``user_id`` whose two
        sides no longer share a practice; the ended ones."""
        mine = practice_members.alias("mine")
        theirs = practice_members.alias("theirs")
        shared = exists().where(
            mine.c.user_id == delegations.c.principal_id,
            theirs.c.user_id == delegations.c.delegate_id,
            mine.c.practice_id == theirs.c.practice_id,
        )
        involved = or_(delegations.c.principal_id == user_id, delegations.c.delegate_id == user_id)
        query = select(*_COLUMNS).where(and_(involved, ~shared))
        ended = [_record(row) for row in (await self.conn.execute(query)).all()]
        for record in ended:
            await self.conn.execute(
                delete(delegations).where(
                    delegations.c.principal_id == record.principal_id,
                    delegations.c.delegate_id == record.delegate_id,
                )
            )
        return ended

    async def grant(self, principal_id: int, delegate_id: int) -> Grant | None:
        """The delegation as ``self.conn`` sees it (a transaction re-checking one)."""
        query = select(*_COLUMNS).where(
            delegations.c.principal_id == principal_id, delegations.c.delegate_id == delegate_id
        )
        row = (await self.conn.execute(query)).first()
        return None if row is None else _record(row).grant
