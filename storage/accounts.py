"""Users, their devices and their bearer tokens."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.account_audit import record
from storage.batches import Batched, read_together, rows_of_each
from storage.db import Database
from storage.errors import Conflict
from storage.hot import Hot, unnested
from storage.schema import devices, password_resets, push_subscriptions, tokens, users

__all__ = [
    "USER_COLUMNS",
    "Accounts",
    "Credentials",
    "Session",
    "SessionRecord",
    "UserRecord",
    "contains",
    "end_sessions",
    "ended_detail",
    "void_reset_links",
]


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    display_name: str
    role: str


@dataclass(frozen=True, slots=True)
class Session:
    """What a token stands for."""

    user: UserRecord
    device_id: int
    expires_at: int
    revoked: bool
    locale: str  # the user's language


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a login checks: the password, the account's standing, the second factor."""

    user: UserRecord
    password_hash: str
    deactivated: bool
    totp_secret: str | None  # None: no second factor
    totp_pending: str | None  # offered, not yet confirmed
    totp_step: int  # the last step a code was accepted for


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One of a user's open sessions (a token), on one of their devices."""

    id: int
    device_id: int
    device_name: str
    created_at: int
    expires_at: int
    token_hash: bytes  # which socket's session it is: not for the wire


USER_COLUMNS = (users.c.id, users.c.username, users.c.display_name, users.c.role)
_CREDENTIALS = (
    users.c.password_hash,
    users.c.deactivated_at,
    users.c.totp_secret,
    users.c.totp_pending,
    users.c.totp_step,
)


_SESSION_COLUMNS = (
    *USER_COLUMNS,
    tokens.c.device_id,
    tokens.c.expires_at,
    tokens.c.revoked_at,
    users.c.locale,
)
# Every socket's first read (``storage.hot``): one token's session on
# SQLite; on PostgreSQL the sessions of the tokens in an array (their rows
# numbered ``n``), those the sockets saying hello meanwhile asked for.
_SESSION = Hot(
    select(*_SESSION_COLUMNS)
    .join(users, users.c.id == tokens.c.user_id)
    .where(tokens.c.token_hash == bindparam("token_hash"))
)
_ASKED_TOKENS = unnested({"token_hash": LargeBinary()})
_SESSIONS = Hot(
    select(_ASKED_TOKENS.c.n, *_SESSION_COLUMNS)
    .join(tokens, tokens.c.token_hash == _ASKED_TOKENS.c.token_hash)
    .join(users, users.c.id == tokens.c.user_id)
)


def _session(row: Sequence[Any] | None) -> Session | None:
    if row is None:
        return None
    *user, device_id, expires_at, revoked_at, locale = row
    return Session(UserRecord(*user), device_id, expires_at, revoked_at is not None, locale)


class Accounts:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._sessions = Batched(self._read_sessions, read_together(db))

    async def create_user(
        self,
        username: str,
        display_name: str,
        role: str,
        password_hash: str,
        now: int,
        locale: str = "fr",
        email: str | None = None,
        birth_date: str | None = None,
    ) -> UserRecord:
        try:
            async with self.db.write() as conn:
                user_id = await conn.scalar(
                    insert(users)
                    .values(
                        username=username,
                        display_name=display_name,
                        role=role,
                        password_hash=password_hash,
                        created_at=now,
                        locale=locale,
                        email=email,
                        birth_date=birth_date,
                    )
                    .returning(users.c.id)
                )
        except IntegrityError:
            raise Conflict(f"username {username!r} is taken") from None
        assert user_id is not None
        return UserRecord(user_id, username, display_name, role)

    async def credentials(self, username: str) -> Credentials | None:
        """What a login by ``username`` checks."""
        return await self._credentials(users.c.username == username)

    async def credentials_of(self, user_id: int) -> Credentials | None:
        return await self._credentials(users.c.id == user_id)

    async def _credentials(self, which: ColumnElement[bool]) -> Credentials | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(*USER_COLUMNS, *_CREDENTIALS).where(which))).first()
        if row is None:
            return None
        password_hash, deactivated_at, secret, pending, step = row[4:]
        user = UserRecord(*row[:4])
        return Credentials(user, password_hash, deactivated_at is not None, secret, pending, step)

    async def users(self, ids: Iterable[int]) -> dict[int, UserRecord]:
        async with self.db.read() as conn:
            rows = await conn.execute(select(*USER_COLUMNS).where(users.c.id.in_(list(ids))))
        return {row.id: UserRecord(*row) for row in rows}

    async def set_password(
        self, user_id: int, password_hash: str, now: int, *, but: bytes | None
    ) -> list[bytes]:
        """A new password; every session but ``but``'s ends (None: none
        ends). The ended sessions' token hashes."""
        async with self.db.write() as conn:
            await conn.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )
            ended = [] if but is None else await end_sessions(conn, user_id, now, keep=but)
            await void_reset_links(conn, user_id, now)
            await record(
                conn, user_id, now, "password_changed", actor=user_id, detail=ended_detail(ended)
            )
        return ended

    async def set_email(self, user_id: int, email: str | None, now: int) -> None:
        """Where a password reset link goes (None: nowhere, no reset by email)."""
        async with self.db.write() as conn:
            await conn.execute(update(users).where(users.c.id == user_id).values(email=email))
            detail = "removed" if email is None else "set"
            await record(conn, user_id, now, "email_changed", actor=user_id, detail=detail)

    async def email(self, user_id: int) -> str | None:
        async with self.db.read() as conn:
            found: str | None = await conn.scalar(
                select(users.c.email).where(users.c.id == user_id)
            )
        return found

    async def open_session(
        self,
        user_id: int,
        token_hash: bytes,
        now: int,
        expires_at: int,
        *,
        checked: str,
        device_id: int | None = None,
        device_name: str = "",
    ) -> int | None:
        """Store a token for ``device_id`` (which must be the user's) or for a
        new device. Returns the device id, or None if the device is not
        theirs. ``Conflict`` if, since the login read its ``checked``
        password hash, the password changed or the account was deactivated:
        the check and the insert share the write lock, so no session opened
        during either outlives it."""
        async with self.db.write() as conn:
            account = (
                await conn.execute(
                    select(users.c.password_hash, users.c.deactivated_at)
                    .where(users.c.id == user_id)
                    .with_for_update()
                )
            ).one()
            if account.password_hash != checked or account.deactivated_at is not None:
                raise Conflict("the account changed since its password was checked")
            if device_id is None:
                device_id = await conn.scalar(
                    insert(devices)
                    .values(user_id=user_id, name=device_name, created_at=now)
                    .returning(devices.c.id)
                )
            else:
                owner = await conn.scalar(
                    select(devices.c.user_id).where(devices.c.id == device_id)
                )
                if owner != user_id:
                    return None
            await conn.execute(
                insert(tokens).values(
                    token_hash=token_hash,
                    user_id=user_id,
                    device_id=device_id,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return device_id

    async def session(self, token_hash: bytes) -> Session | None:
        """What the token stands for, read with those asked for meanwhile."""
        return await self._sessions(token_hash)

    async def _read_sessions(self, token_hashes: list[bytes]) -> list[Session | None]:
        asked = [{"token_hash": token_hash} for token_hash in token_hashes]
        async with self.db.read_one() as conn:
            found = await rows_of_each(conn, _SESSION, _SESSIONS, asked)
        return [_session(rows[0] if rows else None) for rows in found]

    async def locale(self, user_id: int) -> str | None:
        async with self.db.read() as conn:
            found: str | None = await conn.scalar(
                select(users.c.locale).where(users.c.id == user_id)
            )
        return found

    async def set_profile(self, user_id: int, **changed: str) -> None:
        """Change the user's ``locale`` or ``birth_date``."""
        async with self.db.write() as conn:
            await conn.execute(update(users).where(users.c.id == user_id).values(**changed))

    async def birth_date(self, user_id: int) -> str | None:
        async with self.db.read() as conn:
            found: str | None = await conn.scalar(
                select(users.c.birth_date).where(users.c.id == user_id)
            )
        return found

    async def revoke(self, token_hash: bytes, now: int) -> None:
        """End a session (a sign-out)."""
        async with self.db.write() as conn:
            await _revoke(conn, tokens.c.token_hash == token_hash, now)

    async def sessions(self, user_id: int, now: int) -> list[SessionRecord]:
        """The user's valid sessions, newest first."""
        query = (
            select(
                tokens.c.id,
                tokens.c.device_id,
                devices.c.name,
                tokens.c.created_at,
                tokens.c.expires_at,
                tokens.c.token_hash,
            )
            .join(devices, devices.c.id == tokens.c.device_id)
            .where(tokens.c.user_id == user_id, *_valid(now))
            .order_by(tokens.c.id.desc())
        )
        async with self.db.read() as conn:
            return [SessionRecord(*row) for row in await conn.execute(query)]

    async def end_session(self, user_id: int, session_id: int, now: int) -> list[bytes]:
        """End one of the user's valid sessions: its token's hash, or
        nothing if it is no valid session of theirs."""
        async with self.db.write() as conn:
            which = (tokens.c.id == session_id) & (tokens.c.user_id == user_id)
            ended = await _revoke(conn, which & (tokens.c.expires_at > now), now)
            if ended:
                detail = f"session {session_id}"
                await record(conn, user_id, now, "session_ended", actor=user_id, detail=detail)
        return ended

    async def end_other_sessions(self, user_id: int, keep: bytes, now: int) -> list[bytes]:
        async with self.db.write() as conn:
            ended = await end_sessions(conn, user_id, now, keep=keep)
            if ended:
                await record(
                    conn, user_id, now, "sessions_ended", actor=user_id, detail=ended_detail(ended)
                )
        return ended

    async def set_active(
        self, user_id: int, active: bool, now: int, admin: int
    ) -> list[bytes] | None:
        """An admin deactivates (every session ends: their token hashes) or
        reactivates the account; None if it already was so (or there is no
        such user)."""
        standing = (
            users.c.deactivated_at.is_(None) if not active else users.c.deactivated_at.is_not(None)
        )
        async with self.db.write() as conn:
            changed = await conn.execute(
                update(users)
                .where(users.c.id == user_id, standing, users.c.deleted_at.is_(None))
                .values(deactivated_at=None if active else now)
            )
            if changed.rowcount != 1:
                return None
            ended = [] if active else await end_sessions(conn, user_id, now, keep=None)
            await void_reset_links(conn, user_id, now)
            action = "reactivated" if active else "deactivated"
            await record(conn, user_id, now, action, actor=admin, detail=ended_detail(ended))
        return ended

    async def listing(
        self, query: str, role: str | None, after: int | None, limit: int
    ) -> list[tuple[UserRecord, bool, bool, bool]]:
        """Accounts whose username or name contains ``query`` (any case), by
        id after ``after``: each with whether it is verified, deactivated and
        deleted (a tombstone)."""
        columns = (users.c.verified_at, users.c.deactivated_at, users.c.deleted_at)
        statement = select(*USER_COLUMNS, *columns)
        if query:
            statement = statement.where(
                contains(users.c.username, query) | contains(users.c.display_name, query)
            )
        if role is not None:
            statement = statement.where(users.c.role == role)
        if after is not None:
            statement = statement.where(users.c.id > after)
        async with self.db.read() as conn:
            rows = await conn.execute(statement.order_by(users.c.id).limit(limit))
            return [
                (
                    UserRecord(*row[:4]),
                    row.verified_at is not None,
                    row.deactivated_at is not None,
                    row.deleted_at is not None,
                )
                for row in rows
            ]

    async def deleted(self, user_id: int) -> bool:
        """Whether the account was deleted by its owner (a tombstone)."""
        query = select(users.c.deleted_at).where(users.c.id == user_id)
        async with self.db.read() as conn:
            return await conn.scalar(query) is not None

    async def revoked(self, token_hashes: Iterable[bytes], now: int) -> set[bytes]:
        """Those of ``token_hashes`` no longer valid: revoked, expired or unknown."""
        wanted = set(token_hashes)
        if not wanted:
            return set()
        async with self.db.read() as conn:
            valid = await conn.scalars(
                select(tokens.c.token_hash).where(
                    tokens.c.token_hash.in_(sorted(wanted)), *_valid(now)
                )
            )
            return wanted - set(valid)


def contains(column: ColumnElement[str], text: str) -> ColumnElement[bool]:
    """``column`` contains ``text``, in any case (``%`` and ``_`` match themselves)."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def _valid(now: int) -> tuple[ColumnElement[bool], ...]:
    return tokens.c.revoked_at.is_(None), tokens.c.expires_at > now


async def end_sessions(
    conn: AsyncConnection, user_id: int, now: int, *, keep: bytes | None
) -> list[bytes]:
    """Revoke every valid session of the user's but ``keep``'s; their tokens' hashes."""
    which = tokens.c.user_id == user_id
    if keep is not None:
        which &= tokens.c.token_hash != keep
    return await _revoke(conn, which, now)


def ended_detail(tokens: list[bytes]) -> str:
    """How a trail's line says what ended."""
    return f"{len(tokens)} sessions ended"


async def void_reset_links(conn: AsyncConnection, user_id: int, now: int) -> None:
    """Spend the user's unused reset links: one sent before a new password,
    a newer link or a deactivation opens nothing."""
    unused = (password_resets.c.user_id == user_id) & password_resets.c.used_at.is_(None)
    await conn.execute(update(password_resets).where(unused).values(used_at=now))


async def _revoke(conn: AsyncConnection, which: ColumnElement[bool], now: int) -> list[bytes]:
    """Revoke the valid tokens ``which`` selects; their hashes. A device
    left with no valid session loses its push subscription too: nobody
    signed in there is to be told that messages wait."""
    revoked = (
        await conn.execute(
            update(tokens)
            .where(which, tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(tokens.c.token_hash, tokens.c.device_id)
        )
    ).all()
    for device in {row.device_id for row in revoked}:
        still_valid = await conn.scalar(
            select(tokens.c.id).where(tokens.c.device_id == device, *_valid(now)).limit(1)
        )
        if still_valid is None:
            await conn.execute(
                delete(push_subscriptions).where(push_subscriptions.c.device_id == device)
            )
    return [row.token_hash for row in revoked]
