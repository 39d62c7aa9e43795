"""An account's credentials, shared by HTTP and the socket: a password
checked and throttled, a second factor spent once, and ended sessions
closed on every node.

A password is checked against two buckets, as a login's: the username's
(``logins_per_username_per_minute``: ten tries, then one every six
seconds) and the client address's. The
socket's ``account.password`` and ``account.email`` spend from the
username's bucket too, so a stolen session cannot guess the password
faster than a login could.
"""

from __future__ import annotations

from protocol.account import AccountRefusal
from protocol.errors import ErrorCode
from protocol.model import Role
from server.broker.control import SessionsEnded
from server.context import Services
from server.errors import ServerError, busy, unauthorized
from server.policy.refusal import Refusal
from server.ratelimit import Limit
from server.settings import Settings
from server.totp import matching_step, recovery_hash
from storage.accounts import Credentials

__all__ = [
    "authenticate",
    "check_password",
    "close_sessions",
    "denied",
    "pass_second_factor",
    "per",
    "spend_code",
    "throttle",
    "totp_required",
]


# Five codes, then one every ten minutes: 144 guesses a day, each right
# about three times in a million (three steps accepted).
SECOND_FACTOR_LIMIT = Limit(rate=1 / 600, burst=5)


def denied(
    reason: AccountRefusal, message: str, code: ErrorCode = ErrorCode.FORBIDDEN
) -> ServerError:
    return Refusal(reason, message, code=code).error()


def per(count: float, seconds: float) -> Limit:
    """A burst of ``count``, then ``count`` every ``seconds``."""
    return Limit(rate=count / seconds, burst=max(1, int(count)))


async def throttle(ctx: Services, *charges: tuple[str, Limit]) -> None:
    """Spend from every bucket or none (on all nodes together)."""
    wait = await ctx.broker.limits.take(*charges)
    if wait:
        raise busy("too many attempts", retry_after_ms=int(wait * 1000) + 1)


async def authenticate(ctx: Services, username: str, password: str, source: str) -> Credentials:
    """The active account ``username`` and ``password`` stand for. A wrong
    pair is told apart from neither an unknown user nor a deactivated one:
    the account's standing is said only to whoever knows its password."""
    per_minute = ctx.settings.logins_per_source_per_minute
    await throttle(ctx, _tries_of(ctx, username), (f"login-from:{source}", per(per_minute, 60)))
    found = await ctx.store.accounts.credentials(username)
    if not await ctx.passwords.verify(found.password_hash if found else None, password):
        raise unauthorized("wrong username or password")
    assert found is not None  # a decoy never verifies
    if found.deactivated:
        raise denied(AccountRefusal.DEACTIVATED, "this account is deactivated")
    return found


async def check_password(ctx: Services, user_id: int, password: str) -> Credentials:
    """The signed-in user's credentials, if ``password`` is theirs."""
    found = await ctx.store.accounts.credentials_of(user_id)
    assert found is not None, "a signed-in user exists"
    await throttle(ctx, _tries_of(ctx, found.user.username))
    if not await ctx.passwords.verify(found.password_hash, password):
        raise denied(AccountRefusal.WRONG_PASSWORD, "wrong password")
    return found


def _tries_of(ctx: Services, username: str) -> tuple[str, Limit]:
    """The username's bucket: by default ten tries, then one every six seconds."""
    return f"login:{username}", per(ctx.settings.logins_per_username_per_minute, 60)


def totp_required(settings: Settings, role: str) -> bool:
    return settings.practitioners_need_totp and role == Role.PRACTITIONER


async def pass_second_factor(ctx: Services, found: Credentials, code: str | None) -> None:
    """A login's second factor: a code if the account has one; enrolment
    first if the deployment requires one it does not have."""
    if found.totp_secret is None:
        if totp_required(ctx.settings, found.user.role):
            reason = AccountRefusal.ENROL_SECOND_FACTOR
            raise denied(reason, "enrol a second factor first (POST /v1/totp/enrol)")
        return
    if code is None:
        raise denied(AccountRefusal.SECOND_FACTOR, "a code is required", ErrorCode.UNAUTHORIZED)
    await spend_code(ctx, found, found.totp_secret, code)


async def spend_code(ctx: Services, found: Credentials, secret: str, code: str) -> None:
    """Accept ``code`` once: a TOTP code of ``secret`` (its step, spent on
    every node), or else one of the account's recovery codes. Whoever has
    the password gets ``SECOND_FACTOR_LIMIT`` tries of the account, and each
    wrong one is a line of its trail: guessing a code is slow and seen."""
    user = found.user.id
    await throttle(ctx, (f"second-factor:{user}", SECOND_FACTOR_LIMIT))
    now, factors = ctx.clock.ms(), ctx.store.second_factor
    step = matching_step(secret, code, now, found.totp_step)
    if step is not None and await factors.accept_step(user, step):
        return
    if step is None and await factors.spend_recovery_code(user, recovery_hash(code), now):
        return
    await ctx.store.account_audit.add(user, now, "wrong_code", actor=None)
    raise denied(AccountRefusal.WRONG_CODE, "wrong or used code", ErrorCode.UNAUTHORIZED)


async def close_sessions(ctx: Services, user_id: int, tokens: list[bytes], why: str) -> None:
    """Close the sockets of the ended sessions, on every node (this one too)."""
    if tokens:
        await ctx.broker.publish_control(SessionsEnded(user_id, tokens, why))
