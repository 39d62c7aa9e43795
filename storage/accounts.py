"""Users, their devices and their bearer tokens."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.errors import Conflict
from storage.hot import Hot
from storage.schema import devices, push_subscriptions, tokens, users

__all__ = ["USER_COLUMNS", "Accounts", "Session", "UserRecord"]


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


USER_COLUMNS = (users.c.id, users.c.username, users.c.display_name, users.c.role)


# Every socket's first read (``storage.hot``).
_SESSION = Hot(
    select(
        *USER_COLUMNS, tokens.c.device_id, tokens.c.expires_at, tokens.c.revoked_at, users.c.locale
    )
    .join(users, users.c.id == tokens.c.user_id)
    .where(tokens.c.token_hash == bindparam("token_hash"))
)


class Accounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_user(
        self,
        username: str,
        display_name: str,
        role: str,
        password_hash: str,
        now: int,
        locale: str = "fr",
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
                    )
                    .returning(users.c.id)
                )
        except IntegrityError:
            raise Conflict(f"username {username!r} is taken") from None
        assert user_id is not None
        return UserRecord(user_id, username, display_name, role)

    async def credentials(self, username: str) -> tuple[UserRecord, str] | None:
        """The user and their password hash, for a login."""
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    select(*USER_COLUMNS, users.c.password_hash).where(users.c.username == username)
                )
            ).first()
        if row is None:
            return None
        return UserRecord(*row[:4]), row.password_hash

    async def users(self, ids: Iterable[int]) -> dict[int, UserRecord]:
        async with self.db.read() as conn:
            rows = await conn.execute(select(*USER_COLUMNS).where(users.c.id.in_(list(ids))))
        return {row.id: UserRecord(*row) for row in rows}

    async def set_password(self, user_id: int, password_hash: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )

    async def open_session(
        self,
        user_id: int,
        token_hash: bytes,
        now: int,
        expires_at: int,
        *,
        device_id: int | None = None,
        device_name: str = "",
    ) -> int | None:
        """Store a token for ``device_id`` (which must be the user's) or for a
        new device. Returns the device id, or None if the device is not theirs."""
        async with self.db.write() as conn:
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
        async with self.db.read_one() as conn:
            row = await _SESSION.first(conn, {"token_hash": token_hash})
        if row is None:
            return None
        *user, device_id, expires_at, revoked_at, locale = row
        return Session(UserRecord(*user), device_id, expires_at, revoked_at is not None, locale)

    async def locale(self, user_id: int) -> str | None:
        async with self.db.read() as conn:
            found: str | None = await conn.scalar(
                select(users.c.locale).where(users.c.id == user_id)
            )
        return found

    async def set_locale(self, user_id: int, locale: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(users).where(users.c.id == user_id).values(locale=locale))

    async def revoke(self, token_hash: bytes, now: int) -> None:
        """End a session (a sign-out). A device left with no valid session
        loses its push subscription too: nobody signed in there is to be
        told that messages wait."""
        async with self.db.write() as conn:
            device = await conn.scalar(
                update(tokens)
                .where(tokens.c.token_hash == token_hash, tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
                .returning(tokens.c.device_id)
            )
            if device is None:
                return
            still_valid = await conn.scalar(
                select(tokens.c.token_hash)
                .where(
                    tokens.c.device_id == device,
                    tokens.c.revoked_at.is_(None),
                    tokens.c.expires_at > now,
                )
                .limit(1)
            )
            if still_valid is None:
                await conn.execute(
                    delete(push_subscriptions).where(push_subscriptions.c.device_id == device)
                )

    async def revoked(self, token_hashes: Iterable[bytes], now: int) -> set[bytes]:
        """Those of ``token_hashes`` no longer valid: revoked, expired or unknown."""
        wanted = set(token_hashes)
        if not wanted:
            return set()
        async with self.db.read() as conn:
            valid = await conn.scalars(
                select(tokens.c.token_hash).where(
                    tokens.c.token_hash.in_(sorted(wanted)),
                    tokens.c.revoked_at.is_(None),
                    tokens.c.expires_at > now,
                )
            )
            return wanted - set(valid)
