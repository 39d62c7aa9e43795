"""An account's security through the real socket and HTTP: sessions listed
and ended, a password changed, a second factor (TOTP, recovery codes), a
forgotten password reset by email, an admin's deactivation; each change in
the account's trail, every refusal typed."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from clients import AuthError, CallError, Credentials
from clients.http import (
    forgot_password,
    login,
    register,
    reset_password,
    totp_confirm,
    totp_disable,
    totp_enrol,
)
from protocol.account import (
    AccountAuditParams,
    AdminUsersParams,
    EmailParams,
    PasswordParams,
    SessionParams,
)
from protocol.errors import CloseCode
from protocol.model import Empty, Role
from protocol.practice import UserParams
from server.totp import STEP_MS, code_at
from storage import Store
from tests.integration.test_mail import mail_server
from tests.support.server import PASSWORD, RunningServer
from tests.support.wire import greeted, ok

NEW_PASSWORD = "a new and long password"


async def _second_device(server: RunningServer, me: Credentials) -> Credentials:
    return await login(server.base_url, server.usernames[me.user_id], PASSWORD, device_name="phone")


async def _actions(server: RunningServer, me: Credentials) -> list[str]:
    async with server.client(me) as client:
        trail = await client.call("account.audit", AccountAuditParams())
    return [entry.action for entry in trail.entries]


async def _refusal(call: Any) -> tuple[str, str | None]:
    with pytest.raises((CallError, AuthError)) as refused:
        await call
    error = refused.value
    return getattr(error, "code", "unauthorized"), error.details.get("reason")


# Sessions.


async def test_sessions_are_listed_and_one_ended_elsewhere_closes_its_socket(
    server: RunningServer,
) -> None:
    me = await server.user(publish_keys=False)
    phone = await _second_device(server, me)
    async with greeted(server, phone) as on_phone, server.client(me) as desk:
        listed = (await desk.call("account.sessions", Empty())).sessions
        assert [(s.device, s.device_name, s.current) for s in listed] == [
            (phone.device_id, "phone", False),
            (me.device_id, "test", True),
        ]
        await desk.call("account.end_session", SessionParams(listed[0].id))
        assert await on_phone.close_code() == CloseCode.TOKEN_REVOKED
        assert [s.device for s in (await desk.call("account.sessions", Empty())).sessions] == [
            me.device_id
        ]
        again = desk.call("account.end_session", SessionParams(listed[0].id))
        assert await _refusal(again) == ("not_found", None)
    with pytest.raises(AuthError):
        async with server.client(phone, reconnect=False) as ended:
            await ended.call("threads.list", Empty())
    assert (await _actions(server, me))[0] == "session_ended"


async def test_ending_every_other_session_keeps_this_one(server: RunningServer) -> None:
    me = await server.user(publish_keys=False)
    phone, tablet = await _second_device(server, me), await _second_device(server, me)
    async with (
        greeted(server, phone) as one,
        greeted(server, tablet) as two,
        server.client(me) as desk,
    ):
        assert (await desk.call("account.end_other_sessions", Empty())).ended == 2
        assert await one.close_code() == await two.close_code() == CloseCode.TOKEN_REVOKED
        await desk.call("threads.list", Empty())  # still open


# Password.


async def test_a_new_password_needs_the_old_one_and_ends_the_other_sessions(
    server: RunningServer,
) -> None:
    me = await server.user(publish_keys=False)
    username, phone = server.usernames[me.user_id], await _second_device(server, me)
    async with greeted(server, phone) as on_phone, server.client(me) as desk:
        wrong = desk.call("account.password", PasswordParams("not my password", NEW_PASSWORD))
        assert await _refusal(wrong) == ("forbidden", "wrong_password")
        changed = await desk.call("account.password", PasswordParams(PASSWORD, NEW_PASSWORD))
        assert changed.ended == 1
        assert await on_phone.close_code() == CloseCode.TOKEN_REVOKED
        await desk.call("threads.list", Empty())  # this session stays
    assert await _refusal(login(server.base_url, username, PASSWORD)) == ("unauthorized", None)
    await login(server.base_url, username, NEW_PASSWORD)
    assert (await _actions(server, me))[0] == "password_changed"


async def test_a_new_password_may_keep_the_other_sessions(server: RunningServer) -> None:
    me = await server.user(publish_keys=False)
    phone = await _second_device(server, me)
    async with server.client(me) as desk:
        params = PasswordParams(PASSWORD, NEW_PASSWORD, end_other_sessions=False)
        assert (await desk.call("account.password", params)).ended == 0
    async with greeted(server, phone) as on_phone:
        ok(await on_phone.call(1, "threads.list", {}))


async def test_a_too_short_password_is_invalid(server: RunningServer) -> None:
    me = await server.user(publish_keys=False)
    async with greeted(server, me) as link:
        params = {"old_password": PASSWORD, "new_password": "short"}
        answer = await link.call(1, "account.password", params)
    assert answer["t"] == "error" and answer["code"] == "invalid", answer


# Second factor.


def _code(secret: str, steps_ahead: int = 0) -> str:
    return code_at(secret, int(time.time() * 1000) // STEP_MS + steps_ahead)


async def test_a_second_factor_is_asked_at_login_and_each_code_works_once(
    server: RunningServer,
) -> None:
    me = await server.user(publish_keys=False)
    base, username = server.base_url, server.usernames[me.user_id]
    offered = await totp_enrol(base, username, PASSWORD)
    assert offered.uri.startswith(f"otpauth://totp/carehub:{username}?secret={offered.secret}")
    wrong = totp_confirm(
        base, username, PASSWORD, "000000" if _code(offered.secret) != "000000" else "111111"
    )
    assert await _refusal(wrong) == ("unauthorized", "wrong_code")
    recovery = await totp_confirm(base, username, PASSWORD, _code(offered.secret))
    assert len(recovery) == len(set(recovery)) == 10

    assert await _refusal(login(base, username, PASSWORD)) == ("unauthorized", "second_factor")
    # The confirming code's step is spent: the next step's code logs in, once.
    code = _code(offered.secret, 1)
    await login(base, username, PASSWORD, otp=code)
    replayed = login(base, username, PASSWORD, otp=code)
    assert await _refusal(replayed) == ("unauthorized", "wrong_code")
    # A recovery code stands in for a code, once, however it is typed.
    await login(base, username, PASSWORD, otp=recovery[0].upper().replace("-", " "))
    assert await _refusal(login(base, username, PASSWORD, otp=recovery[0])) == (
        "unauthorized",
        "wrong_code",
    )
    async with server.client(me) as desk:
        security = await desk.call("account.security", Empty())
        assert (security.totp, security.recovery_codes_left) == (True, 9)
        # The tenth try of this username's password (the login's bucket: ten), and
        # the fifth code tried (the second factor's: five).
        await totp_disable(base, username, PASSWORD, recovery[1])
        assert not (await desk.call("account.security", Empty())).totp
    assert (await _actions(server, me))[:6] == [
        "totp_disabled",
        "recovery_code_used",
        "wrong_code",  # the recovery code tried again
        "recovery_code_used",
        "wrong_code",  # the code replayed
        "totp_enabled",
    ]


async def _second_factor_on(server: RunningServer, me: Credentials) -> str:
    """Enrol and confirm a second factor for ``me``; its secret."""
    username = server.usernames[me.user_id]
    offered = await totp_enrol(server.base_url, username, PASSWORD)
    await totp_confirm(server.base_url, username, PASSWORD, _code(offered.secret))
    return offered.secret


async def test_guessing_codes_is_slow_and_seen(server: RunningServer) -> None:
    me = await server.user(publish_keys=False)
    base, username = server.base_url, server.usernames[me.user_id]
    secret = await _second_factor_on(server, me)
    wrong = "000000" if _code(secret, 1) != "000000" else "111111"
    for _ in range(5):
        guess = login(base, username, PASSWORD, otp=wrong)
        assert await _refusal(guess) == ("unauthorized", "wrong_code")
    throttled = login(base, username, PASSWORD, otp=_code(secret, 1))  # even a right one
    assert await _refusal(throttled) == ("rate_limited", None)
    assert (await _actions(server, me))[:6] == ["wrong_code"] * 5 + ["totp_enabled"]


async def test_an_admin_resets_a_lost_second_factor_and_every_session_ends(
    server: RunningServer,
) -> None:
    me = await server.user(publish_keys=False)
    await _second_factor_on(server, me)
    async with greeted(server, me) as mine, server.client(await server.admin()) as admin:
        assert (await admin.call("admin.reset_second_factor", UserParams(me.user_id))).ended == 1
        assert await mine.close_code() == CloseCode.TOKEN_REVOKED
        again = admin.call("admin.reset_second_factor", UserParams(me.user_id))
        assert await _refusal(again) == ("conflict", None)
    back = await login(server.base_url, server.usernames[me.user_id], PASSWORD)  # no code asked
    assert (await _actions(server, back))[0] == "totp_reset"


async def test_the_second_factor_needs_the_password(server: RunningServer) -> None:
    me = await server.user(publish_keys=False)
    username = server.usernames[me.user_id]
    refused = totp_enrol(server.base_url, username, "not my password")
    assert await _refusal(refused) == ("unauthorized", None)
    nobody = totp_enrol(server.base_url, "nobody-at-all", PASSWORD)
    assert await _refusal(nobody) == ("unauthorized", None)  # the same words: nobody is told
    never_offered = totp_confirm(server.base_url, username, PASSWORD, "123456")
    assert await _refusal(never_offered) == ("forbidden", "nothing_offered")
    offered = await totp_enrol(server.base_url, username, PASSWORD)
    await totp_confirm(server.base_url, username, PASSWORD, _code(offered.secret))
    again = totp_enrol(server.base_url, username, PASSWORD)
    assert await _refusal(again) == ("forbidden", "second_factor_on")


async def test_a_deployment_can_require_a_second_factor_of_practitioners(make_server: Any) -> None:
    server: RunningServer = make_server(practitioners_need_totp=True)
    base = server.base_url
    await register(base, "dr-house", PASSWORD, "Dr House", "practitioner")
    await register(base, "a-patient", PASSWORD, "A Patient", "patient")
    await login(base, "a-patient", PASSWORD)  # patients are not asked
    refused = login(base, "dr-house", PASSWORD)
    assert await _refusal(refused) == ("forbidden", "enrol_second_factor")
    offered = await totp_enrol(base, "dr-house", PASSWORD)
    recovery = await totp_confirm(base, "dr-house", PASSWORD, _code(offered.secret))
    doctor = await login(base, "dr-house", PASSWORD, otp=_code(offered.secret, 1))
    off = totp_disable(base, "dr-house", PASSWORD, recovery[0])
    assert await _refusal(off) == ("forbidden", "second_factor_required")
    async with server.client(doctor) as desk:
        security = await desk.call("account.security", Empty())
    assert (security.totp, security.totp_required, security.recovery_codes_left) == (True, True, 10)


# A forgotten password.


async def test_a_forgotten_password_is_reset_once_by_the_emailed_link(make_server: Any) -> None:
    async with mail_server() as mailbox:
        server: RunningServer = make_server(
            smtp_host="127.0.0.1",
            smtp_port=mailbox.port,
            smtp_security="none",
            public_url="https://soins.example.org",
            reminder_poll_seconds=0.1,
        )
        me = await server.user(publish_keys=False)
        username, base = server.usernames[me.user_id], server.base_url
        async with server.client(me) as desk:
            wrong = desk.call("account.email", EmailParams("not my password", "ana@example.org"))
            assert await _refusal(wrong) == ("forbidden", "wrong_password")
            await desk.call("account.email", EmailParams(PASSWORD, "ana@example.org"))
        offered = await totp_enrol(base, username, PASSWORD)
        await totp_confirm(base, username, PASSWORD, _code(offered.secret))
        told = await mailbox.next()  # the owner hears that a second factor was turned on
        await forgot_password(base, "nobody-at-all")  # accepted, and nothing is sent
        await forgot_password(base, username)
        got = await mailbox.next()
        async with greeted(server, me) as before_reset:
            token = re.search(r"https://soins\.example\.org/#reset=(\S+)", got.text)
            assert token is not None, got.text
            await reset_password(base, token[1], NEW_PASSWORD)
            assert await before_reset.close_code() == CloseCode.TOKEN_REVOKED
        after = await mailbox.next()
    assert "double authentification vient d'être activée" in told.text
    assert "réinitialisé par un lien" in after.text and "If this was not you" in after.text
    assert got.rcpt_tos == ["ana@example.org"] and len(mailbox.delivered) == 3
    assert "Réinitialisation" in str(got.message["Subject"])
    assert "30 minutes" in got.text and username not in got.text
    spent = reset_password(base, token[1], "yet another password")
    assert await _refusal(spent) == ("unauthorized", "reset_link")
    assert await _refusal(login(base, username, PASSWORD)) == ("unauthorized", None)
    # A link opens the password, not the second factor.
    without = login(base, username, NEW_PASSWORD)
    assert await _refusal(without) == ("unauthorized", "second_factor")
    again = await login(base, username, NEW_PASSWORD, otp=_code(offered.secret, 1))
    assert (await _actions(server, again))[:4] == [
        "password_reset",
        "password_reset_sent",
        "totp_enabled",
        "email_changed",
    ]


# Deactivation.


async def test_an_admin_deactivates_an_account_and_reactivates_it(server: RunningServer) -> None:
    me = await server.user(publish_keys=False)
    username, admin = server.usernames[me.user_id], await server.admin()
    async with greeted(server, me) as mine, server.client(admin) as desk:
        found = await desk.call("admin.users", AdminUsersParams(username))
        assert [(u.id, u.role, u.deactivated) for u in found.users] == [
            (me.user_id, Role.PATIENT, False)
        ]
        await desk.call("admin.deactivate", UserParams(me.user_id))
        assert await mine.close_code() == CloseCode.TOKEN_REVOKED
        twice = desk.call("admin.deactivate", UserParams(me.user_id))
        assert await _refusal(twice) == ("conflict", None)
        assert (await desk.call("admin.users", AdminUsersParams(username))).users[0].deactivated
        refused = login(server.base_url, username, PASSWORD)
        assert await _refusal(refused) == ("forbidden", "deactivated")
        wrong = login(server.base_url, username, "not the password")
        assert await _refusal(wrong) == ("unauthorized", None)  # told only to who knows it
        await desk.call("admin.reactivate", UserParams(me.user_id))
        own = desk.call("admin.deactivate", UserParams(admin.user_id))
        assert await _refusal(own) == ("forbidden", "own_account")
        nobody = desk.call("admin.deactivate", UserParams(10**9))
        assert await _refusal(nobody) == ("not_found", None)
    await login(server.base_url, username, PASSWORD)
    with pytest.raises(AuthError):  # the old sessions stay ended
        async with server.client(me, reconnect=False) as old:
            await old.call("threads.list", Empty())
    assert (await _actions(server, await login(server.base_url, username, PASSWORD)))[:2] == [
        "reactivated",
        "deactivated",
    ]


async def test_only_an_admin_deactivates(server: RunningServer) -> None:
    me, other = await server.user(publish_keys=False), await server.user(publish_keys=False)
    async with server.client(me) as client:
        refused = client.call("admin.deactivate", UserParams(other.user_id))
        assert await _refusal(refused) == ("forbidden", "role")


async def test_a_reset_link_expires_and_a_newer_one_replaces_the_older(
    database_factory: Any,
) -> None:
    store = Store(database_factory())
    await store.db.migrate()
    try:
        ana = await store.accounts.create_user("ana", "Ana", "patient", "x", 0, email="a@b.fr")
        resets, email = store.password_resets, ("password_reset", b"{}")
        await resets.request(ana.id, b"1" * 32, 1_000, 2_000, email)
        assert await resets.redeem(b"1" * 32, "hash", 2_000) is None  # expired
        await resets.request(ana.id, b"2" * 32, 3_000, 9_000, email)
        await resets.request(ana.id, b"3" * 32, 4_000, 9_000, email)
        assert await resets.redeem(b"2" * 32, "hash", 5_000) is None  # replaced
        assert await resets.redeem(b"3" * 32, "hash", 5_000) == (ana.id, [])
        assert await resets.redeem(b"3" * 32, "hash", 5_000) is None  # spent
        await resets.request(ana.id, b"4" * 32, 6_000, 9_000, email)
        await store.accounts.set_password(ana.id, "new", 6_500, but=None)
        assert await resets.redeem(b"4" * 32, "hash", 7_000) is None  # a new password voids it
        await resets.request(ana.id, b"5" * 32, 7_000, 9_000, email)
        await store.accounts.set_active(ana.id, False, 7_500, admin=ana.id)
        assert await resets.redeem(b"5" * 32, "hash", 8_000) is None  # so does a deactivation
    finally:
        await store.close()
