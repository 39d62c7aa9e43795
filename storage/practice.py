"""Practices and their members, verified practitioners, who is whose
patient, and each practitioner's inbox settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.accounts import USER_COLUMNS, UserRecord, contains
from storage.db import Database, insert_new
from storage.errors import Conflict, Contention
from storage.hot import Hot
from storage.schema import (
    broadcast_opt_outs,
    care_invitations,
    care_relations,
    inboxes,
    participants,
    practice_invitations,
    practice_members,
    practices,
    threads,
    users,
)

__all__ = ["CareInvitationRecord", "InvitationRecord", "PracticeRecord", "Practices"]

# What a send to a practitioner reads of them (``server.directory``, cached).
_INBOX = Hot(
    select(users.c.verified_at.is_not(None), inboxes.c.settings, users.c.locale)
    .select_from(users)
    .outerjoin(inboxes, inboxes.c.practitioner_id == users.c.id)
    .where(users.c.id == bindparam("practitioner_id"))
)


@dataclass(frozen=True, slots=True)
class PracticeRecord:
    id: int
    name: str
    created_by: int
    members: list[UserRecord]
    invited: list[UserRecord]  # asked to join, not yet members
    locale: str = "fr"  # what its bots write in


@dataclass(frozen=True, slots=True)
class CareInvitationRecord:
    practitioner: UserRecord
    patient_id: int
    invited_at: int


@dataclass(frozen=True, slots=True)
class InvitationRecord:
    practice_id: int
    practice_name: str
    invited_by: UserRecord
    invited_at: int


class Practices:
    def __init__(self, db: Database) -> None:
        self.db = db

    # Verification

    async def search(self, text: str, limit: int) -> list[UserRecord]:
        """Verified practitioners whose name contains ``text`` (any case)."""
        query = (
            select(*USER_COLUMNS)
            .where(
                users.c.role == "practitioner",
                users.c.verified_at.is_not(None),
                contains(users.c.display_name, text),
            )
            .order_by(users.c.display_name, users.c.id)
            .limit(limit)
        )
        async with self.db.read() as conn:
            return [UserRecord(*row) for row in await conn.execute(query)]

    # Practices

    async def create(self, name: str, created_by: int, now: int, locale: str) -> int:
        async with self.db.write() as conn:
            practice_id = await conn.scalar(
                insert(practices)
                .values(name=name, created_by=created_by, created_at=now, locale=locale)
                .returning(practices.c.id)
            )
            assert practice_id is not None
            await conn.execute(
                insert(practice_members).values(
                    practice_id=practice_id, user_id=created_by, added_by=created_by, added_at=now
                )
            )
        return int(practice_id)

    async def of_user(self, user_id: int) -> list[PracticeRecord]:
        """The practices ``user_id`` belongs to, with their members."""
        mine = select(practice_members.c.practice_id).where(practice_members.c.user_id == user_id)
        async with self.db.read() as conn:
            return await _records(conn, mine)

    async def invitations(self, user_id: int) -> list[InvitationRecord]:
        """The practices ``user_id`` is asked to join, oldest invitation first."""
        query = (
            select(practices.c.id, practices.c.name, practice_invitations.c.invited_at)
            .add_columns(*USER_COLUMNS)
            .join(practices, practices.c.id == practice_invitations.c.practice_id)
            .join(users, users.c.id == practice_invitations.c.invited_by)
            .where(practice_invitations.c.user_id == user_id)
            .order_by(practice_invitations.c.invited_at, practices.c.id)
        )
        async with self.db.read() as conn:
            return [
                InvitationRecord(row[0], row[1], UserRecord(*row[3:]), row[2])
                for row in await conn.execute(query)
            ]

    async def member_of(self, practice_id: int, user_id: int) -> bool:
        async with self.db.read() as conn:
            return await PracticeTx(conn).is_member(practice_id, user_id)

    # Care relations, and the invitations that lead to them

    async def care_invitations(self, patient_ids: list[int]) -> list[CareInvitationRecord]:
        """The practitioners asking any of ``patient_ids`` to be their patient."""
        query = (
            select(care_invitations.c.patient_id, care_invitations.c.invited_at)
            .add_columns(*USER_COLUMNS)
            .join(users, users.c.id == care_invitations.c.practitioner_id)
            .where(care_invitations.c.patient_id.in_(patient_ids))
            .order_by(care_invitations.c.invited_at, users.c.id)
        )
        async with self.db.read() as conn:
            return [
                CareInvitationRecord(UserRecord(*row[2:]), row[0], row[1])
                for row in map(tuple, await conn.execute(query))
            ]

    async def invited_patients(self, practitioner_id: int) -> list[int]:
        query = select(care_invitations.c.patient_id).where(
            care_invitations.c.practitioner_id == practitioner_id
        )
        async with self.db.read() as conn:
            return sorted((await conn.scalars(query)).all())

    async def open_threads(self, practitioner_id: int, patient_id: int) -> int:
        """How many threads of the two are open (``PracticeTx.open_threads``)."""
        async with self.db.read() as conn:
            return await PracticeTx(conn).open_threads(practitioner_id, patient_id)

    async def is_patient(self, practitioner_id: int, patient_id: int) -> bool:
        async with self.db.read() as conn:
            return await conn.scalar(_relation(practitioner_id, patient_id)) is not None

    async def patients(
        self, practitioner_id: int, *, born: str | None = None
    ) -> list[tuple[UserRecord, str, int]]:
        """The practitioner's patients (those born on ``born`` if given):
        each with how they became one, and when."""
        query = (
            select(*USER_COLUMNS, care_relations.c.source, care_relations.c.created_at)
            .join(users, users.c.id == care_relations.c.patient_id)
            .where(care_relations.c.practitioner_id == practitioner_id)
            .order_by(users.c.display_name, users.c.id)
        )
        if born is not None:
            query = query.where(users.c.birth_date == born)
        async with self.db.read() as conn:
            return [
                (UserRecord(*row[:4]), row.source, row.created_at)
                for row in await conn.execute(query)
            ]

    # Broadcasts

    async def set_opt_out(self, practitioner_id: int, patient_id: int, out: bool, now: int) -> None:
        """Opt the patient out of (or back into) the practitioner's broadcasts."""
        where = (
            broadcast_opt_outs.c.practitioner_id == practitioner_id,
            broadcast_opt_outs.c.patient_id == patient_id,
        )
        async with self.db.write() as conn:
            if not out:
                await conn.execute(delete(broadcast_opt_outs).where(*where))
                return
            await insert_new(
                conn,
                broadcast_opt_outs,
                practitioner_id=practitioner_id,
                patient_id=patient_id,
                created_at=now,
            )

    async def reachable_by_broadcast(
        self, practitioner_id: int, patient_ids: list[int]
    ) -> tuple[set[int], set[int]]:
        """Of ``patient_ids``: the practitioner's patients, and those who opted out."""
        async with self.db.read() as conn:
            patients = await conn.scalars(
                select(care_relations.c.patient_id).where(
                    care_relations.c.practitioner_id == practitioner_id,
                    care_relations.c.patient_id.in_(patient_ids),
                )
            )
            opted_out = await conn.scalars(
                select(broadcast_opt_outs.c.patient_id).where(
                    broadcast_opt_outs.c.practitioner_id == practitioner_id,
                    broadcast_opt_outs.c.patient_id.in_(patient_ids),
                )
            )
            return set(patients.all()), set(opted_out.all())

    # Inbox settings

    async def inbox(self, practitioner_id: int) -> tuple[bool, bytes | None, str]:
        """Whether the practitioner is verified, their stored inbox settings
        (None until they set some) and their language (the defaults are
        worded in it), in one statement."""
        async with self.db.read_one() as conn:
            row = await _INBOX.first(conn, {"practitioner_id": practitioner_id})
        return (False, None, "fr") if row is None else (bool(row[0]), row[1], row[2])


async def _records(conn: AsyncConnection, practice_ids: Select[Any]) -> list[PracticeRecord]:
    """The practices whose ids ``practice_ids`` selects, with members and invited users."""
    found: dict[int, PracticeRecord] = {}
    query = select(
        practices.c.id, practices.c.name, practices.c.created_by, practices.c.locale
    ).where(practices.c.id.in_(practice_ids))
    for row in await conn.execute(query.order_by(practices.c.id)):
        found[row.id] = PracticeRecord(row.id, row.name, row.created_by, [], [], row.locale)
    for table, into in ((practice_members, "members"), (practice_invitations, "invited")):
        people = (
            select(table.c.practice_id, *USER_COLUMNS)
            .join(users, users.c.id == table.c.user_id)
            .where(table.c.practice_id.in_(list(found)))
            .order_by(users.c.id)
        )
        for practice_id, *user in map(tuple, await conn.execute(people)):
            getattr(found[practice_id], into).append(UserRecord(*user))
    return list(found.values())


def _invitation(practice_id: int, user_id: int) -> tuple[Any, ...]:
    return (
        practice_invitations.c.practice_id == practice_id,
        practice_invitations.c.user_id == user_id,
    )


def _relation(practitioner_id: int, patient_id: int) -> Select[tuple[str]]:
    return select(care_relations.c.source).where(
        care_relations.c.practitioner_id == practitioner_id,
        care_relations.c.patient_id == patient_id,
    )


class PracticeTx:
    """Practices inside one write transaction (``WriteTx.practices``)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def of_member(self, user_id: int) -> list[int]:
        """The practices ``user_id`` belongs to or is invited into."""
        member = select(practice_members.c.practice_id).where(practice_members.c.user_id == user_id)
        invited = select(practice_invitations.c.practice_id).where(
            practice_invitations.c.user_id == user_id
        )
        found = await self.conn.scalars(member.union(invited))
        return sorted(set(found.all()))

    async def verify(self, user_id: int, now: int, rpps: str | None = None) -> int | None:
        """Mark a practitioner verified (once: the first time stays), with
        their directory number if given; when, or None if there is no such
        practitioner. ``Conflict`` (before any write) if the number verifies
        another account."""
        if rpps is not None:
            holder = await self.conn.scalar(select(users.c.id).where(users.c.rpps == rpps))
            if holder not in (None, user_id):
                raise Conflict(f"RPPS {rpps} verifies another account")
        try:
            verified_at: int | None = await self.conn.scalar(
                update(users)
                .where(
                    users.c.id == user_id,
                    users.c.role == "practitioner",
                    users.c.deleted_at.is_(None),
                )
                .values(
                    verified_at=func.coalesce(users.c.verified_at, now),
                    rpps=func.coalesce(rpps, users.c.rpps),
                )
                .returning(users.c.verified_at)
            )
        except IntegrityError:  # another verification took the number since the check
            raise Contention("the RPPS number was taken meanwhile: check again") from None
        return verified_at

    async def invite(self, practice_id: int, user_id: int, by: int, now: int) -> bool:
        """Ask ``user_id`` to join; False if they were already asked."""
        return await insert_new(
            self.conn,
            practice_invitations,
            practice_id=practice_id,
            user_id=user_id,
            invited_by=by,
            invited_at=now,
        )

    async def accept(self, practice_id: int, user_id: int, now: int) -> bool:
        """Turn the user's invitation into membership; False if there was none."""
        invited_by = await self.conn.scalar(
            delete(practice_invitations)
            .where(*_invitation(practice_id, user_id))
            .returning(practice_invitations.c.invited_by)
        )
        if invited_by is None:
            return False
        await insert_new(
            self.conn,
            practice_members,
            practice_id=practice_id,
            user_id=user_id,
            added_by=invited_by,
            added_at=now,
        )
        return True

    async def decline(self, practice_id: int, user_id: int) -> bool:
        """Drop the user's invitation (declined, or withdrawn); False if there was none."""
        done = await self.conn.execute(
            delete(practice_invitations).where(*_invitation(practice_id, user_id))
        )
        return bool(done.rowcount)

    async def remove_member(self, practice_id: int, user_id: int) -> bool:
        done = await self.conn.execute(
            delete(practice_members).where(
                practice_members.c.practice_id == practice_id,
                practice_members.c.user_id == user_id,
            )
        )
        return bool(done.rowcount)

    async def is_member(self, practice_id: int, user_id: int) -> bool:
        query = select(practice_members.c.user_id).where(
            practice_members.c.practice_id == practice_id, practice_members.c.user_id == user_id
        )
        return await self.conn.scalar(query) is not None

    async def record(self, practice_id: int) -> PracticeRecord | None:
        """The practice with its members and the users invited to it."""
        found = await _records(
            self.conn, select(practices.c.id).where(practices.c.id == practice_id)
        )
        return found[0] if found else None

    async def invite_patient(self, practitioner_id: int, patient_id: int, now: int) -> bool:
        """Ask ``patient_id`` to be ``practitioner_id``'s patient; False if asked already."""
        return await insert_new(
            self.conn,
            care_invitations,
            practitioner_id=practitioner_id,
            patient_id=patient_id,
            invited_at=now,
        )

    async def answer_care(
        self, practitioner_id: int, patient_id: int, *, accept: bool, now: int
    ) -> bool:
        """Accept (a care relation, ``source`` "added") or decline the
        practitioner's invitation; False if there was none."""
        done = await self.conn.execute(
            delete(care_invitations).where(
                care_invitations.c.practitioner_id == practitioner_id,
                care_invitations.c.patient_id == patient_id,
            )
        )
        if done.rowcount and accept:
            await self.relate(practitioner_id, patient_id, "added", now)
        return bool(done.rowcount)

    async def relate(self, practitioner_id: int, patient_id: int, source: str, now: int) -> bool:
        """``add_patient`` inside a transaction (a confirmed appointment)."""
        return await insert_new(
            self.conn,
            care_relations,
            practitioner_id=practitioner_id,
            patient_id=patient_id,
            source=source,
            created_at=now,
        )

    async def open_threads(self, practitioner_id: int, patient_id: int) -> int:
        """Patient-practitioner threads the patient opened with the
        practitioner and that are not closed."""
        doctor = participants.alias("doctor")
        patient = participants.alias("patient")
        query = (
            select(func.count())
            .select_from(threads)
            .join(
                doctor,
                and_(doctor.c.thread_id == threads.c.id, doctor.c.user_id == practitioner_id),
            )
            .join(
                patient, and_(patient.c.thread_id == threads.c.id, patient.c.user_id == patient_id)
            )
            .where(
                threads.c.kind == "patient_practitioner",
                threads.c.created_by == patient_id,  # their requests, not broadcasts
                threads.c.closed_at.is_(None),
                doctor.c.left_seq.is_(None),
                patient.c.left_seq.is_(None),
            )
        )
        return int(await self.conn.scalar(query) or 0)

    async def set_inbox(self, practitioner_id: int, settings: bytes, now: int) -> None:
        values = {"settings": settings, "updated_at": now}
        if not await insert_new(self.conn, inboxes, practitioner_id=practitioner_id, **values):
            await self.conn.execute(
                update(inboxes).where(inboxes.c.practitioner_id == practitioner_id).values(values)
            )
