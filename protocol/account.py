"""An account's own security over the socket (``account.*``) and an
admin's hold on accounts (``admin.users``, ``admin.deactivate``,
``admin.reactivate``). What needs no session (a login's second factor, a
forgotten password) is HTTP's: ``protocol.http``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from msgspec import Meta, Struct

from protocol.http import GivenPassword, Password
from protocol.model import NO_NUL, Empty, Id, Role
from protocol.practice import UserParams
from protocol.push import Email

__all__ = [
    "ACCOUNT_METHODS",
    "AccountAuditEntry",
    "AccountAuditParams",
    "AccountAuditResult",
    "AccountRefusal",
    "AdminUserInfo",
    "AdminUsersParams",
    "AdminUsersResult",
    "DeleteParams",
    "EmailParams",
    "EndedResult",
    "PasswordParams",
    "SecurityInfo",
    "SessionInfo",
    "SessionParams",
    "SessionsResult",
]


class AccountRefusal(StrEnum):
    """Why an account's operation was refused: ``details.reason`` (the
    catalogue words it; ``refusal.<reason>``)."""

    WRONG_PASSWORD = "wrong_password"
    SECOND_FACTOR = "second_factor"  # a login needs ``otp``: the account has a second factor
    WRONG_CODE = "wrong_code"  # a TOTP code wrong or used, or a recovery code spent
    ENROL_SECOND_FACTOR = "enrol_second_factor"  # required of this account: enrol (HTTP) first
    DEACTIVATED = "deactivated"  # by an admin
    RESET_LINK = "reset_link"  # unknown, expired or already used
    SECOND_FACTOR_REQUIRED = "second_factor_required"  # it cannot be turned off
    SECOND_FACTOR_ON = "second_factor_on"  # enrolling again: turn it off first
    NOTHING_OFFERED = "nothing_offered"  # confirming a secret never offered (or replaced)
    OWN_ACCOUNT = "own_account"  # an admin deactivating themselves
    ADMIN_ACCOUNT = "admin_account"  # an admin's account is not deleted from within


class SessionInfo(Struct):
    """One signed-in session: a token, on one of the user's devices."""

    id: int
    device: int
    device_name: str
    created_at: int  # ms UTC
    expires_at: int
    current: bool  # the session this socket was opened with


class SessionsResult(Struct):
    sessions: list[SessionInfo]


class SessionParams(Struct):
    session: Id


class EndedResult(Struct):
    ended: int  # how many sessions ended (their sockets closed, on every node)


class PasswordParams(Struct):
    """A new password, given the current one; by default every other
    session ends (a password changed because it leaked)."""

    old_password: GivenPassword
    new_password: Password
    end_other_sessions: bool = True


class EmailParams(Struct):
    """Where a password reset link goes; None removes it (no reset by
    email). The password is asked: a stolen session must not be able to
    send the account's reset link elsewhere."""

    password: GivenPassword
    email: Email | None


class DeleteParams(Struct):
    """Delete the caller's account (``docs/accounts.md``, "Deleting an
    account"); the password is asked again, as for any change a stolen
    session must not make."""

    password: GivenPassword


class SecurityInfo(Struct):
    email: str | None
    totp: bool  # a second factor is on
    totp_required: bool  # the deployment requires one of this account
    recovery_codes_left: int


class AccountAuditParams(Struct):
    before: Id | None = None  # an entry's id: older ones only
    limit: Annotated[int, Meta(ge=1, le=200)] = 50


class AccountAuditEntry(Struct):
    id: int
    at: int
    action: str  # password_changed, password_reset, totp_enabled, deactivated, ...
    actor: int | None  # who did it: the user, an admin, or None (the server)
    detail: str


class AccountAuditResult(Struct):
    entries: list[AccountAuditEntry]  # newest first


class AdminUsersParams(Struct):
    """Accounts whose username or name contains ``query``, by id."""

    query: Annotated[str, Meta(max_length=64), NO_NUL] = ""
    role: Role | None = None
    after: Id | None = None
    limit: Annotated[int, Meta(ge=1, le=200)] = 50


class AdminUserInfo(Struct):
    id: int
    username: str
    name: str
    role: Role
    verified: bool  # a practitioner an admin verified
    deactivated: bool
    deleted: bool = False  # by its owner: a tombstone, beyond any admin's action


class AdminUsersResult(Struct):
    users: list[AdminUserInfo]


ACCOUNT_METHODS: dict[str, tuple[type[Struct], type[Struct]]] = {
    "account.sessions": (Empty, SessionsResult),
    "account.end_session": (SessionParams, Empty),
    "account.end_other_sessions": (Empty, EndedResult),
    "account.password": (PasswordParams, EndedResult),
    "account.email": (EmailParams, Empty),
    "account.security": (Empty, SecurityInfo),
    "account.audit": (AccountAuditParams, AccountAuditResult),
    "account.delete": (DeleteParams, EndedResult),
    "admin.users": (AdminUsersParams, AdminUsersResult),
    "admin.deactivate": (UserParams, Empty),
    "admin.reactivate": (UserParams, Empty),
    "admin.reset_second_factor": (UserParams, EndedResult),
}
