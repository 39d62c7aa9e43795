"""TOTP second factors with their recovery codes, and password reset links.

Each change is one transaction with its line in the account's trail. The
checks that must hold once across nodes are conditional updates: a TOTP
step is accepted only above the last one (``accept_step``), a recovery code
and a reset link are spent only while unspent.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.account_audit import record
from storage.accounts import end_sessions, ended_detail, void_reset_links
from storage.db import Database
from storage.outbox import OutboxTx
from storage.schema import password_resets, recovery_codes, users

__all__ = ["PasswordResets", "SecondFactor"]


class SecondFactor:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def offer(self, user_id: int, secret: str) -> None:
        """Keep ``secret`` until a code from it confirms it (``confirm``)."""
        async with self.db.write() as conn:
            await conn.execute(
                update(users).where(users.c.id == user_id).values(totp_pending=secret)
            )

    async def confirm(
        self, user_id: int, secret: str, step: int, codes: Sequence[bytes], now: int
    ) -> bool:
        """Turn the offered ``secret`` on, with fresh recovery codes (their
        hashes); False if another secret was offered meanwhile."""
        async with self.db.write() as conn:
            changed = await conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.totp_pending == secret)
                .values(totp_secret=secret, totp_pending=None, totp_step=step)
            )
            if changed.rowcount != 1:
                return False
            await conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
            rows = [{"user_id": user_id, "code_hash": code} for code in codes]
            await conn.execute(insert(recovery_codes), rows)
            await record(conn, user_id, now, "totp_enabled", actor=user_id)
        return True

    async def accept_step(self, user_id: int, step: int) -> bool:
        """Spend ``step``: False if a code of it or of a later step was
        accepted already (a replay, or a race between two logins)."""
        async with self.db.write() as conn:
            changed = await conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.totp_step < step)
                .values(totp_step=step)
            )
        return changed.rowcount == 1

    async def spend_recovery_code(self, user_id: int, code_hash: bytes, now: int) -> bool:
        async with self.db.write() as conn:
            changed = await conn.execute(
                update(recovery_codes)
                .where(
                    recovery_codes.c.user_id == user_id,
                    recovery_codes.c.code_hash == code_hash,
                    recovery_codes.c.used_at.is_(None),
                )
                .values(used_at=now)
            )
            if changed.rowcount != 1:
                return False
            await record(conn, user_id, now, "recovery_code_used", actor=user_id)
        return True

    async def recovery_codes_left(self, user_id: int) -> int:
        unused = (recovery_codes.c.user_id == user_id) & recovery_codes.c.used_at.is_(None)
        async with self.db.read() as conn:
            return int(await conn.scalar(select(func.count()).where(unused)) or 0)

    async def reset(self, user_id: int, now: int, admin: int) -> list[bytes] | None:
        """An admin turns the second factor off for someone who lost it (and
        their recovery codes); every session ends, whoever opened it. The
        ended tokens' hashes, or None if the account has no second factor."""
        async with self.db.write() as conn:
            if not await _clear(conn, user_id):
                return None
            ended = await end_sessions(conn, user_id, now, keep=None)
            await record(conn, user_id, now, "totp_reset", actor=admin, detail=ended_detail(ended))
        return ended

    async def disable(self, user_id: int, now: int) -> None:
        async with self.db.write() as conn:
            await _clear(conn, user_id)
            await record(conn, user_id, now, "totp_disabled", actor=user_id)


async def _clear(conn: AsyncConnection, user_id: int) -> bool:
    """Turn the second factor off, its recovery codes gone; False if it was off."""
    changed = await conn.execute(
        update(users)
        .where(users.c.id == user_id, users.c.totp_secret.is_not(None))
        .values(totp_secret=None, totp_pending=None)
    )
    await conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
    return bool(changed.rowcount)


class PasswordResets:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def request(
        self, user_id: int, token_hash: bytes, now: int, expires_at: int, email: tuple[str, bytes]
    ) -> None:
        """Store the link (its hash) and queue the email carrying it in the
        notification outbox, in one transaction: a link is sent if and only
        if it can be redeemed. Earlier unused links stop working."""
        async with self.db.write() as conn:
            await void_reset_links(conn, user_id, now)
            await conn.execute(
                insert(password_resets).values(
                    token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at
                )
            )
            await OutboxTx(conn).add(user_id, *email, now)
            await record(conn, user_id, now, "password_reset_sent", actor=None)

    async def valid(self, token_hash: bytes, now: int) -> bool:
        """Whether the link can still be spent (checked before a password is hashed)."""
        columns = password_resets.c
        unspent = (columns.used_at.is_(None)) & (columns.expires_at > now)
        async with self.db.read() as conn:
            found = await conn.scalar(
                select(columns.id).where(columns.token_hash == token_hash, unspent)
            )
        return found is not None

    async def redeem(
        self, token_hash: bytes, password_hash: str, now: int
    ) -> tuple[int, list[bytes]] | None:
        """Spend the link: the new password, every session ended. The
        user's id and the ended sessions' token hashes, or None if the
        link is unknown, spent or expired, or the account deactivated."""
        async with self.db.write() as conn:
            user_id = await conn.scalar(
                update(password_resets)
                .where(
                    password_resets.c.token_hash == token_hash,
                    password_resets.c.used_at.is_(None),
                    password_resets.c.expires_at > now,
                )
                .values(used_at=now)
                .returning(password_resets.c.user_id)
            )
            if user_id is None:
                return None
            changed = await conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.deactivated_at.is_(None))
                .values(password_hash=password_hash)
            )
            if changed.rowcount != 1:
                return None
            ended = await end_sessions(conn, user_id, now, keep=None)
            detail = ended_detail(ended)
            await record(conn, user_id, now, "password_reset", actor=user_id, detail=detail)
        return int(user_id), ended
