"""account.sessions, .end_session, .end_other_sessions, .password, .email,
.security, .audit, .delete; admin.users, .deactivate, .reactivate, .reset_second_factor.

A person sees and ends their own sessions (a phone lost, a shared
computer), changes their password knowing the current one, and sets where
a reset link goes; an admin lists accounts and deactivates one, whose
sockets close at once on every node. Each change is in the account's
trail (``account.audit``). What needs no session is HTTP's
(``server.http_security``).
"""

from __future__ import annotations

from functools import partial

from protocol.account import (
    AccountAuditEntry,
    AccountAuditParams,
    AccountAuditResult,
    AccountRefusal,
    AdminUserInfo,
    AdminUsersParams,
    AdminUsersResult,
    DeleteParams,
    EmailParams,
    EndedResult,
    PasswordParams,
    SecurityInfo,
    SessionInfo,
    SessionParams,
    SessionsResult,
)
from protocol.errors import CloseCode
from protocol.model import Empty, Role
from protocol.practice import UserParams
from server.connection import Connection
from server.context import Services
from server.errors import conflict, not_found
from server.ops.accounts import check_password, close_sessions, denied, totp_required
from server.ops.admission import require_role
from server.ops.booking import release_rest
from server.ops.erasure import DELETION_REASON, plan_deletion, store_deletion

__all__ = [
    "audit",
    "deactivate",
    "delete_account",
    "end_other_sessions",
    "end_session",
    "list_sessions",
    "list_users",
    "reactivate",
    "reset_second_factor",
    "security",
    "set_email",
    "set_password",
]


async def list_sessions(ctx: Services, conn: Connection, _: Empty) -> SessionsResult:
    found = await ctx.store.accounts.sessions(conn.user_id, ctx.clock.ms())
    return SessionsResult(
        [
            SessionInfo(
                s.id,
                s.device_id,
                s.device_name,
                s.created_at,
                s.expires_at,
                s.token_hash == conn.token_hash,
            )
            for s in found
        ]
    )


async def end_session(ctx: Services, conn: Connection, p: SessionParams) -> Empty:
    """End one of the caller's sessions (this one too: a logout)."""
    ended = await ctx.store.accounts.end_session(conn.user_id, p.session, ctx.clock.ms())
    if not ended:
        raise not_found("no such session", session=p.session)
    await close_sessions(ctx, conn.user_id, ended, "session ended from another device")
    return Empty()


async def end_other_sessions(ctx: Services, conn: Connection, _: Empty) -> EndedResult:
    now = ctx.clock.ms()
    ended = await ctx.store.accounts.end_other_sessions(conn.user_id, conn.token_hash, now)
    await close_sessions(ctx, conn.user_id, ended, "session ended from another device")
    return EndedResult(len(ended))


async def set_password(ctx: Services, conn: Connection, p: PasswordParams) -> EndedResult:
    """A new password, given the current one; the other sessions end
    unless asked not to (this one stays open)."""
    await check_password(ctx, conn.user_id, p.old_password)
    password_hash = await ctx.passwords.hash(p.new_password)
    ended = await ctx.store.accounts.set_password(
        conn.user_id,
        password_hash,
        ctx.clock.ms(),
        but=conn.token_hash if p.end_other_sessions else None,
    )
    await close_sessions(ctx, conn.user_id, ended, "password changed")
    return EndedResult(len(ended))


async def set_email(ctx: Services, conn: Connection, p: EmailParams) -> Empty:
    await check_password(ctx, conn.user_id, p.password)
    await ctx.store.accounts.set_email(conn.user_id, p.email, ctx.clock.ms())
    return Empty()


async def delete_account(ctx: Services, conn: Connection, p: DeleteParams) -> EndedResult:
    """The caller's account deleted (``server.ops.erasure``): every session
    ends, this one too, on every node."""
    if conn.role is Role.ADMIN:  # the deployment's keys: another admin's business
        raise denied(AccountRefusal.ADMIN_ACCOUNT, "an admin's account is not deleted from within")
    await check_password(ctx, conn.user_id, p.password)
    plan = await plan_deletion(ctx, conn.user_id)
    erased = await ctx.writer.run(partial(store_deletion, plan))
    conn.finish(CloseCode.TOKEN_REVOKED, "account deleted")  # once this answer is sent
    await close_sessions(ctx, conn.user_id, erased.ended, "account deleted")
    for control in erased.controls:  # its sockets are closed already: caches forget
        await ctx.broker.publish_control(control)
    await release_rest(ctx, conn.user_id, DELETION_REASON)
    return EndedResult(len(erased.ended))


async def security(ctx: Services, conn: Connection, _: Empty) -> SecurityInfo:
    found = await ctx.store.accounts.credentials_of(conn.user_id)
    assert found is not None, "a signed-in user exists"
    codes_left = await ctx.store.second_factor.recovery_codes_left(conn.user_id)
    return SecurityInfo(
        email=await ctx.store.accounts.email(conn.user_id),
        totp=found.totp_secret is not None,
        totp_required=totp_required(ctx.settings, found.user.role),
        recovery_codes_left=codes_left if found.totp_secret is not None else 0,
    )


async def audit(ctx: Services, conn: Connection, p: AccountAuditParams) -> AccountAuditResult:
    rows = await ctx.store.account_audit.of_user(conn.user_id, p.before, p.limit)
    return AccountAuditResult(
        [AccountAuditEntry(row.id, row.at, row.action, row.actor_id, row.detail) for row in rows]
    )


async def list_users(ctx: Services, conn: Connection, p: AdminUsersParams) -> AdminUsersResult:
    require_role(conn, Role.ADMIN, "list accounts")
    found = await ctx.store.accounts.listing(p.query, p.role, p.after, p.limit)
    return AdminUsersResult(
        [
            AdminUserInfo(
                u.id, u.username, u.display_name, Role(u.role), verified, deactivated, deleted
            )
            for u, verified, deactivated, deleted in found
        ]
    )


async def deactivate(ctx: Services, conn: Connection, p: UserParams) -> Empty:
    """No login, no session, no socket for the account until reactivated;
    its sockets close now, on every node. Its threads, messages and
    trail stay (``docs/accounts.md``)."""
    require_role(conn, Role.ADMIN, "deactivate accounts")
    if p.user == conn.user_id:
        raise denied(AccountRefusal.OWN_ACCOUNT, "an admin cannot deactivate their own account")
    ended = await _set_active(ctx, conn, p.user, active=False)
    await close_sessions(ctx, p.user, ended, "account deactivated")
    return Empty()


async def reactivate(ctx: Services, conn: Connection, p: UserParams) -> Empty:
    """The account may log in again (its old sessions stay ended)."""
    require_role(conn, Role.ADMIN, "reactivate accounts")
    await _set_active(ctx, conn, p.user, active=True)
    return Empty()


async def reset_second_factor(ctx: Services, conn: Connection, p: UserParams) -> EndedResult:
    """Someone who lost their phone and their recovery codes, once an admin
    checked who they are outside carehub: the second factor is off and every
    session ends (one a thief opened too); they log in and enrol again."""
    require_role(conn, Role.ADMIN, "reset second factors")
    ended = await ctx.store.second_factor.reset(p.user, ctx.clock.ms(), conn.user_id)
    if ended is None:
        if p.user not in await ctx.store.accounts.users([p.user]):
            raise not_found("no such user", user=p.user)
        raise conflict("the account has no second factor", user=p.user)
    await close_sessions(ctx, p.user, ended, "second factor reset by an admin")
    return EndedResult(len(ended))


async def _set_active(ctx: Services, conn: Connection, user: int, *, active: bool) -> list[bytes]:
    ended = await ctx.store.accounts.set_active(user, active, ctx.clock.ms(), conn.user_id)
    if ended is not None:
        return ended
    if user not in await ctx.store.accounts.users([user]) or await ctx.store.accounts.deleted(user):
        raise not_found("no such user", user=user)
    raise conflict(f"the account is {'active' if active else 'deactivated'} already", user=user)
