"""Pushes to the mobile apps through real sockets: FCM HTTP v1 and its
OAuth token endpoint (tests/support/fcm.py), APNs over HTTP/2 and TLS
(tests/support/apns.py), each checking requests as the real service does.

A push arrives in the documented shape and says nothing but the notice's
fields; one access token or provider token serves many pushes and is
renewed when due or refused; what each service answers decides what the
outbox does next."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from protocol.errors import ErrorCode
from protocol.push import MobilePlatform, PushRegisterParams
from server.clock import Clock
from server.mobilepush import ApnsSender, FcmSender, ServiceAccount
from server.pushing import Notice, Outcome
from server.settings import Settings
from server.webpush import b64url, unb64url
from storage import PushTarget
from tests.integration.test_practice import refused
from tests.support.apns import FakeApns, apns_service
from tests.support.clocked import TravelClock
from tests.support.fcm import FakeFcm, fcm_service

ENVELOPE = os.urandom(300)  # a sealed message: opaque bytes to everyone but the device
MESSAGE = Notice(thread=42, count=3, id=11)
QUIET = Notice(thread=42, count=4, quiet=True, id=12)
PREVIEW = Notice(thread=42, count=5, envelope=ENVELOPE, id=13)
APPOINTMENT = Notice(thread=0, count=1, kind="appointment", id=14)
MINUTE_MS = 60_000


def android(token: str) -> PushTarget:
    return PushTarget(7, 3, token, "", "", False, "fcm")


def iphone(device: str | None = None) -> PushTarget:
    return PushTarget(8, 3, device or secrets.token_hex(32), "", "", False, "apns")


@contextlib.asynccontextmanager
async def fcm_sender(fcm: FakeFcm, clock: Clock | None = None) -> AsyncIterator[FcmSender]:
    settings = Settings(fcm_credentials_file=str(fcm.credentials_file), fcm_url=fcm.origin)
    sender = FcmSender.from_settings(settings, clock=clock)
    assert sender is not None
    try:
        yield sender
    finally:
        await sender.close()


def apns_settings(apns: FakeApns) -> Settings:
    return Settings(
        apns_key_file=str(apns.key_file),
        apns_key_id=apns.key_id,
        apns_team_id=apns.team_id,
        apns_topic=apns.topic,
        apns_url=apns.origin,
    )


@contextlib.asynccontextmanager
async def apns_sender(
    apns: FakeApns, clock: Clock | None = None, *, http2: bool = True
) -> AsyncIterator[ApnsSender]:
    sender = ApnsSender.from_settings(
        apns_settings(apns), http=apns.client(http2=http2), clock=clock
    )
    assert sender is not None
    try:
        yield sender
    finally:
        await sender.close()


# FCM -----------------------------------------------------------------------


def fcm_body(token: str, data: dict[str, str], priority: str, collapse_key: str) -> dict[str, Any]:
    android_options = {"priority": priority, "collapse_key": collapse_key, "ttl": "86400s"}
    return {"message": {"token": token, "data": data, "android": android_options}}


async def test_fcm_pushes_are_data_messages_saying_only_the_notice(tmp_path: Path) -> None:
    async with fcm_service(tmp_path) as fcm, fcm_sender(fcm) as sender:
        results = [await sender.send(android("tok-1"), n) for n in (MESSAGE, QUIET, PREVIEW)]
        results.append(await sender.send(android("tok-1"), APPOINTMENT))
    assert [r.outcome for r in results] == [Outcome.SENT] * 4 and fcm.refusals == []
    message, quiet, preview, appointment = (got.body for got in fcm.received)
    base = {"id": "11", "thread": "42", "count": "3", "kind": "message"}
    assert message == fcm_body("tok-1", base, "HIGH", "thread-42")
    quiet_data = {"id": "12", "thread": "42", "count": "4", "kind": "message", "quiet": "true"}
    assert quiet == fcm_body("tok-1", quiet_data, "NORMAL", "thread-42")
    sealed = preview["message"]["data"].pop("envelope")
    assert unb64url(sealed) == ENVELOPE
    assert preview == fcm_body("tok-1", {**base, "id": "13", "count": "5"}, "HIGH", "thread-42")
    appointment_data = {"id": "14", "thread": "0", "count": "1", "kind": "appointment"}
    assert appointment == fcm_body("tok-1", appointment_data, "HIGH", "appointments")


async def test_one_oauth_exchange_serves_many_pushes(tmp_path: Path) -> None:
    async with fcm_service(tmp_path) as fcm, fcm_sender(fcm) as sender:
        tokens = [f"tok-{n}" for n in range(5)]
        results = await asyncio.gather(*(sender.send(android(t), MESSAGE) for t in tokens))
    assert {result.outcome for result in results} == {Outcome.SENT}
    [claims] = fcm.exchanges
    assert claims["iss"] == fcm.client_email and claims["aud"] == fcm.token_uri
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert len({got.headers["authorization"] for got in fcm.received}) == 1


async def test_a_revoked_access_token_is_renewed_and_the_push_goes(tmp_path: Path) -> None:
    async with fcm_service(tmp_path) as fcm, fcm_sender(fcm) as sender:
        await sender.send(android("tok-1"), MESSAGE)
        fcm.revoke_tokens()
        result = await sender.send(android("tok-1"), QUIET)
    assert result.outcome is Outcome.SENT and len(fcm.exchanges) == 2
    [refused] = fcm.refusals
    assert "UNAUTHENTICATED" in refused
    first, second = (got.headers["authorization"] for got in fcm.received)
    assert first != second


async def test_an_access_token_is_renewed_before_it_expires(tmp_path: Path) -> None:
    clock = TravelClock()
    async with fcm_service(tmp_path, clock) as fcm, fcm_sender(fcm, clock) as sender:
        await sender.send(android("tok-1"), MESSAGE)
        clock.travel(50 * MINUTE_MS)  # Google's hour, less the margin, is not over
        await sender.send(android("tok-1"), MESSAGE)
        assert len(fcm.exchanges) == 1
        clock.travel(6 * MINUTE_MS)
        result = await sender.send(android("tok-1"), MESSAGE)
    assert result.outcome is Outcome.SENT
    assert len(fcm.exchanges) == 2 and fcm.refusals == []  # renewed before FCM refused it


async def test_fcm_answers_decide_what_follows(tmp_path: Path) -> None:
    async with fcm_service(tmp_path) as fcm, fcm_sender(fcm) as sender:
        fcm.fail("uninstalled", "UNREGISTERED")
        fcm.fail("mangled", "INVALID_ARGUMENT")
        fcm.fail("foreign", "SENDER_ID_MISMATCH")
        fcm.fail("busy", "QUOTA_EXCEEDED", retry_after=120)
        fcm.fail("down", "UNAVAILABLE")
        fcm.fail("broken", "INTERNAL")
        got = {name: await sender.send(android(name), MESSAGE) for name in fcm.scripted}
    answers = {name: (r.outcome, r.status, r.retry_after_s) for name, r in got.items()}
    assert answers == {
        "uninstalled": (Outcome.GONE, 404, 0),
        "mangled": (Outcome.GONE, 400, 0),
        "foreign": (Outcome.REFUSED, 403, 0),  # the deployment's credentials may be the wrong ones
        "busy": (Outcome.RETRY, 429, 120),
        "down": (Outcome.RETRY, 503, 60),
        "broken": (Outcome.RETRY, 500, 60),
    }
    assert fcm.refusals == []


async def test_a_key_not_the_accounts_is_refused_by_the_token_endpoint(tmp_path: Path) -> None:
    async with fcm_service(tmp_path) as fcm:
        account = ServiceAccount.load(fcm.credentials_file)
        impostor = dataclasses.replace(account, key=rsa.generate_private_key(65537, 2048))
        sender = FcmSender(impostor, fcm.origin)
        try:
            result = await sender.send(android("tok-1"), MESSAGE)
        finally:
            await sender.close()
    assert (result.outcome, result.status) == (Outcome.REFUSED, 400)
    [refused] = fcm.refusals
    assert "invalid_grant" in refused and "Signature" in refused and fcm.received == []


async def test_an_unreachable_fcm_is_tried_again_later(tmp_path: Path) -> None:
    async with fcm_service(tmp_path) as fcm:
        sender = FcmSender.from_settings(
            Settings(fcm_credentials_file=str(fcm.credentials_file), fcm_url=fcm.origin)
        )
        assert sender is not None
        assert (await sender.send(android("tok-1"), MESSAGE)).outcome is Outcome.SENT
    try:  # FCM has stopped, the access token is still good
        sent = await sender.send(android("tok-1"), MESSAGE)
    finally:
        await sender.close()
    assert sent.outcome is Outcome.RETRY and sent.retry_after_s > 0
    async with fcm_sender(fcm) as fresh:  # nor can a new one get a token
        exchange = await fresh.send(android("tok-1"), MESSAGE)
    assert exchange.outcome is Outcome.RETRY and exchange.retry_after_s > 0


# APNs ----------------------------------------------------------------------


def aps_alert(loc_key: str, count: int, thread_id: str, *loc_args: str) -> dict[str, Any]:
    alert: dict[str, Any] = {"loc-key": loc_key}
    if loc_args:
        alert["loc-args"] = list(loc_args)
    return {"alert": alert, "badge": count, "sound": "default", "thread-id": thread_id}


async def test_apns_pushes_arrive_over_http2_in_the_documented_shape(tmp_path: Path) -> None:
    target = iphone()
    async with apns_service(tmp_path) as apns, apns_sender(apns) as sender:
        sent_at = int(time.time())
        notices = (MESSAGE, QUIET, PREVIEW, APPOINTMENT)
        results = [await sender.send(target, notice) for notice in notices]
    assert [r.outcome for r in results] == [Outcome.SENT] * 4 and apns.refusals == []
    assert {(got.http_version, got.device) for got in apns.received} == {("2", target.endpoint)}
    message, quiet, preview, appointment = apns.received
    assert message.payload == {
        "aps": aps_alert("NEW_MESSAGES", 3, "thread-42", "3"),
        **{"id": 11, "thread": 42, "count": 3, "kind": "message"},
    }
    assert quiet.payload == {
        "aps": {"badge": 4},  # no banner, no sound: the count only
        **{"id": 12, "thread": 42, "count": 4, "kind": "message", "quiet": True},
    }
    assert preview.payload == {
        "aps": {**aps_alert("NEW_MESSAGES", 5, "thread-42", "5"), "mutable-content": 1},
        **{"id": 13, "thread": 42, "count": 5, "kind": "message", "envelope": b64url(ENVELOPE)},
    }
    assert appointment.payload == {
        "aps": aps_alert("APPOINTMENT_CHANGED", 1, "appointments"),
        **{"id": 14, "thread": 0, "count": 1, "kind": "appointment"},
    }
    headers = [
        {k: v for k, v in got.headers.items() if k.startswith("apns-")} for got in apns.received
    ]
    expirations = [int(h.pop("apns-expiration")) for h in headers]
    assert all(0 <= e - sent_at - 86400 <= 5 for e in expirations)
    common = {"apns-topic": apns.topic, "apns-push-type": "alert"}
    assert headers == [
        {**common, "apns-priority": "10", "apns-collapse-id": "thread-42"},
        {**common, "apns-priority": "5", "apns-collapse-id": "thread-42"},
        {**common, "apns-priority": "10", "apns-collapse-id": "thread-42"},
        {**common, "apns-priority": "10", "apns-collapse-id": "appointments"},
    ]


async def test_one_provider_token_serves_many_pushes(tmp_path: Path) -> None:
    async with apns_service(tmp_path) as apns, apns_sender(apns) as sender:
        for _ in range(3):
            assert (await sender.send(iphone(), MESSAGE)).outcome is Outcome.SENT
    assert len({got.headers["authorization"] for got in apns.received}) == 1
    first = apns.received[0]
    assert first.token_header == {"alg": "ES256", "kid": apns.key_id}
    assert first.token_claims.keys() == {"iss", "iat"}
    assert first.token_claims["iss"] == apns.team_id


async def test_an_expired_provider_token_is_renewed_and_the_push_goes(tmp_path: Path) -> None:
    async with apns_service(tmp_path) as apns, apns_sender(apns) as sender:
        await sender.send(iphone(), MESSAGE)
        apns.expire_tokens()
        result = await sender.send(iphone(), MESSAGE)
    assert result.outcome is Outcome.SENT
    assert apns.refusals == ["403 ExpiredProviderToken"]
    first, second = (got.headers["authorization"] for got in apns.received)
    assert first != second


async def test_a_provider_token_is_renewed_within_the_hour(tmp_path: Path) -> None:
    clock = TravelClock()
    async with apns_service(tmp_path, clock) as apns, apns_sender(apns, clock) as sender:
        await sender.send(iphone(), MESSAGE)
        clock.travel(45 * MINUTE_MS)
        await sender.send(iphone(), MESSAGE)
        clock.travel(10 * MINUTE_MS)  # 55 minutes: Apple would soon call it expired
        result = await sender.send(iphone(), MESSAGE)
    assert result.outcome is Outcome.SENT and apns.refusals == []
    tokens = [got.headers["authorization"] for got in apns.received]
    assert tokens[0] == tokens[1] != tokens[2]


async def test_apns_answers_decide_what_follows(tmp_path: Path) -> None:
    devices = {name: secrets.token_hex(32) for name in ("gone", "bad", "other", "topic")}
    devices |= {name: secrets.token_hex(32) for name in ("busy", "down", "broken")}
    async with apns_service(tmp_path) as apns, apns_sender(apns) as sender:
        apns.fail(devices["gone"], 410, "Unregistered")
        apns.fail(devices["bad"], 400, "BadDeviceToken")
        apns.fail(devices["other"], 400, "DeviceTokenNotForTopic")
        apns.fail(devices["topic"], 400, "TopicDisallowed")
        apns.fail(devices["busy"], 429, "TooManyRequests", retry_after=30)
        apns.fail(devices["down"], 503, "ServiceUnavailable")
        apns.fail(devices["broken"], 500, "InternalServerError")
        got = {name: await sender.send(iphone(device), MESSAGE) for name, device in devices.items()}
        malformed = await sender.send(iphone("../../3/device/x"), MESSAGE)
    answers = {name: (r.outcome, r.status, r.retry_after_s) for name, r in got.items()}
    assert answers == {
        "gone": (Outcome.GONE, 410, 0),
        "bad": (Outcome.GONE, 400, 0),
        "other": (Outcome.GONE, 400, 0),
        "topic": (Outcome.REFUSED, 400, 0),
        "busy": (Outcome.RETRY, 429, 30),
        "down": (Outcome.RETRY, 503, 60),
        "broken": (Outcome.RETRY, 500, 60),
    }
    assert malformed.outcome is Outcome.GONE  # never sent: no app has such a token
    assert len(apns.received) == len(devices) and apns.refusals == []


async def test_a_token_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    async with apns_service(tmp_path) as apns:
        sender = ApnsSender(
            ec.generate_private_key(ec.SECP256R1()),
            apns.key_id,
            apns.team_id,
            apns.topic,
            apns.origin,
            http=apns.client(),
        )
        try:
            result = await sender.send(iphone(), MESSAGE)
        finally:
            await sender.close()
    assert (result.outcome, result.status) == (Outcome.REFUSED, 403)
    assert apns.refusals == ["403 InvalidProviderToken"]


async def test_the_fake_apns_takes_only_http2(tmp_path: Path) -> None:
    async with apns_service(tmp_path) as apns, apns_sender(apns, http2=False) as sender:
        await sender.send(iphone(), MESSAGE)
    assert apns.received == [] and apns.refusals == ["505 HTTP/1.1: APNs speaks only HTTP/2"]


async def test_by_default_apns_is_reached_over_http2_with_verified_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with apns_service(tmp_path) as apns:
        untrusting = ApnsSender.from_settings(apns_settings(apns))  # the system's CAs
        monkeypatch.setenv("SSL_CERT_FILE", str(apns.ca_file))  # httpx's trust_env reads it
        trusting = ApnsSender.from_settings(apns_settings(apns))
        assert untrusting is not None and trusting is not None
        try:
            refused = await untrusting.send(iphone(), MESSAGE)
            sent = await trusting.send(iphone(), MESSAGE)
        finally:
            await untrusting.close()
            await trusting.close()
    assert refused.outcome is Outcome.RETRY and sent.outcome is Outcome.SENT
    assert [got.http_version for got in apns.received] == ["2"]


async def test_an_unreachable_apns_is_tried_again_later(tmp_path: Path) -> None:
    async with apns_service(tmp_path) as apns:
        pass
    async with apns_sender(apns) as sender:
        result = await sender.send(iphone(), MESSAGE)
    assert result.outcome is Outcome.RETRY and result.retry_after_s > 0


async def test_closed_mobile_apps_get_pushes_through_the_server(
    make_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A patient's Android phone (FCM) and iPhone (APNs, previews on), both
    closed: a message reaches each through a real server's push queue."""
    async with fcm_service(tmp_path) as fcm, apns_service(tmp_path) as apns:
        monkeypatch.setenv("SSL_CERT_FILE", str(apns.ca_file))  # the server trusts the fake
        server = make_server(
            push_poll_seconds=0.1,
            fcm_credentials_file=fcm.credentials_file,
            fcm_url=fcm.origin,
            apns_key_file=apns.key_file,
            apns_key_id=apns.key_id,
            apns_team_id=apns.team_id,
            apns_topic=apns.topic,
            apns_url=apns.origin,
        )
        doctor, android, thread = await server.patient_thread()
        iphone = await server.other_device(android)
        android_token, iphone_token = "f" * 40 + ":" + "A" * 100, secrets.token_hex(32)
        async with server.client(android) as app:
            await app.call("push.register", PushRegisterParams(MobilePlatform.FCM, android_token))
        async with server.client(iphone) as app:
            apple = PushRegisterParams(MobilePlatform.APNS, iphone_token, preview=True)
            await app.call("push.register", apple)
        async with server.secure(doctor) as desk:
            await desk.send(thread, "Votre ordonnance est prête.")
            to_android, to_iphone = await fcm.next(), await apns.next()
        server.stop()  # its connections to the fakes close with it
    data = to_android.body["message"]["data"]
    assert to_android.body["message"]["token"] == android_token
    assert {k: data[k] for k in ("thread", "count", "kind")} == {
        "thread": str(thread),
        "count": "1",
        "kind": "message",
    }
    assert to_iphone.device == iphone_token and to_iphone.http_version == "2"
    assert to_iphone.payload["aps"]["badge"] == 1
    assert to_iphone.payload["aps"]["mutable-content"] == 1  # its extension opens the preview
    assert unb64url(to_iphone.payload["envelope"])  # sealed: opaque bytes here
    assert not fcm.refusals and not apns.refusals


async def test_a_platform_the_deployment_does_not_push_to_is_refused(
    server: Any,
) -> None:
    patient = await server.user("patient", publish_keys=False)
    async with server.client(patient) as app:
        params = PushRegisterParams(MobilePlatform.APNS, secrets.token_hex(32))
        await refused(app.call("push.register", params), None, ErrorCode.INVALID)
