"""HTTP endpoints of an account's security that need no session: a second
factor enrolled, confirmed and turned off with the password, and a
forgotten password reset by a link sent by email (``docs/accounts.md``).

Each asks for the password (or the link) itself rather than a bearer
token: a practitioner whom the deployment requires a second factor of
enrols before any session of theirs opens, and a stolen session cannot
turn the second factor off.
"""

from __future__ import annotations

import json

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from protocol.account import AccountRefusal
from protocol.errors import ErrorCode
from protocol.http import (
    ForgotBody,
    ResetBody,
    TotpConfirmBody,
    TotpConfirmResult,
    TotpDisableBody,
    TotpEnrolBody,
    TotpEnrolResult,
)
from server.auth import hash_token, new_token
from server.context import Context
from server.http import json_response, read_body, source_of
from server.mail import PASSWORD_RESET
from server.ops.accounts import (
    authenticate,
    close_sessions,
    denied,
    per,
    spend_code,
    throttle,
    totp_required,
)
from server.totp import (
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    recovery_hash,
)

__all__ = [
    "forgot_password",
    "reset_password",
    "totp_confirm",
    "totp_disable",
    "totp_enrol",
]

ISSUER = "carehub"
FORGOT_PER_USERNAME_PER_HOUR = 5  # at most five emails an hour to one account
STALE_LINK = "unknown, expired or used link"


async def totp_enrol(request: Request) -> Response:
    """A new secret, kept until a code from it confirms it."""
    ctx: Context = request.app.state.ctx
    body: TotpEnrolBody = await read_body(request, TotpEnrolBody)
    found = await authenticate(ctx, body.username, body.password, source_of(request))
    if found.totp_secret is not None:
        raise denied(AccountRefusal.SECOND_FACTOR_ON, "a second factor is on: turn it off first")
    secret = new_secret()
    await ctx.store.second_factor.offer(found.user.id, secret)
    uri = provisioning_uri(secret, found.user.username, ISSUER)
    return json_response(TotpEnrolResult(secret, uri))


async def totp_confirm(request: Request) -> Response:
    """A code from the offered secret turns it on; the recovery codes are
    shown this once (only their hashes are kept)."""
    ctx: Context = request.app.state.ctx
    body: TotpConfirmBody = await read_body(request, TotpConfirmBody)
    found = await authenticate(ctx, body.username, body.password, source_of(request))
    secret = found.totp_pending
    if secret is None or found.totp_secret is not None:
        raise denied(AccountRefusal.NOTHING_OFFERED, "no secret offered: enrol first")
    step = matching_step(secret, body.code, ctx.clock.ms(), found.totp_step)
    if step is None:
        raise denied(AccountRefusal.WRONG_CODE, "wrong or used code", ErrorCode.UNAUTHORIZED)
    codes = new_recovery_codes()
    hashes = [recovery_hash(code) for code in codes]
    if not await ctx.store.second_factor.confirm(
        found.user.id, secret, step, hashes, ctx.clock.ms()
    ):
        raise denied(AccountRefusal.NOTHING_OFFERED, "another secret was offered meanwhile")
    return json_response(TotpConfirmResult(codes))


async def totp_disable(request: Request) -> Response:
    """Turn the second factor off, with a code (or a recovery code), unless
    the deployment requires it of this account."""
    ctx: Context = request.app.state.ctx
    body: TotpDisableBody = await read_body(request, TotpDisableBody)
    found = await authenticate(ctx, body.username, body.password, source_of(request))
    if found.totp_secret is None:
        return Response(status_code=204)
    if totp_required(ctx.settings, found.user.role):
        raise denied(AccountRefusal.SECOND_FACTOR_REQUIRED, "a second factor is required here")
    await spend_code(ctx, found, found.totp_secret, body.code)
    await ctx.store.second_factor.disable(found.user.id, ctx.clock.ms())
    return Response(status_code=204)


async def forgot_password(request: Request) -> Response:
    """Send a reset link to the account's address, if it has one. The
    answer is 202 whatever the username, and it goes before the account is
    even looked up (the work is done after it): neither its words nor its
    time tell who has an account."""
    ctx: Context = request.app.state.ctx
    body: ForgotBody = await read_body(request, ForgotBody)
    per_minute = ctx.settings.logins_per_source_per_minute
    await throttle(ctx, (f"forgot-from:{source_of(request)}", per(per_minute, 60)))
    return Response(status_code=202, background=BackgroundTask(_forgot, ctx, body.username))


async def _forgot(ctx: Context, username: str) -> None:
    found = await ctx.store.accounts.credentials(username)
    if found and not found.deactivated and await _reachable(ctx, found.user.id):
        username_bucket = per(FORGOT_PER_USERNAME_PER_HOUR, 3600)
        if not await ctx.broker.limits.take((f"forgot:{username}", username_bucket)):
            await _send_reset_link(ctx, found.user.id)


async def _reachable(ctx: Context, user_id: int) -> bool:
    """Whether a link can reach the user: an SMTP host to carry it (none is
    made without one) and an address of theirs."""
    return bool(ctx.settings.smtp_host) and bool(await ctx.store.accounts.email(user_id))


async def _send_reset_link(ctx: Context, user_id: int) -> None:
    token, now = new_token(), ctx.clock.ms()
    ttl = ctx.settings.password_reset_ttl_seconds
    email = json.dumps({"token": token, "minutes": ttl // 60}).encode()
    await ctx.store.password_resets.request(
        user_id, hash_token(token), now, now + ttl * 1000, (PASSWORD_RESET, email)
    )


async def reset_password(request: Request) -> Response:
    """Spend a reset link: the new password, and every session ends."""
    ctx: Context = request.app.state.ctx
    body: ResetBody = await read_body(request, ResetBody)
    await throttle(ctx, (f"reset-from:{source_of(request)}", per(10, 60)))
    link, now = hash_token(body.token), ctx.clock.ms()
    if not await ctx.store.password_resets.valid(link, now):  # before an argon2 hash is paid
        raise denied(AccountRefusal.RESET_LINK, STALE_LINK, ErrorCode.UNAUTHORIZED)
    password_hash = await ctx.passwords.hash(body.password)
    redeemed = await ctx.store.password_resets.redeem(link, password_hash, now)
    if redeemed is None:  # spent meanwhile, or the account deactivated
        raise denied(AccountRefusal.RESET_LINK, STALE_LINK, ErrorCode.UNAUTHORIZED)
    user_id, ended = redeemed
    await close_sessions(ctx, user_id, ended, "password reset")
    return Response(status_code=204)
