"""The mobile pushes' pure parts, by tables: what each service's answer
means, what a push says on each platform (and what it leaves out when the
sealed preview does not fit), and credentials that fail at start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from server.mobilepush import (
    ApnsSender,
    FcmSender,
    MobilePushError,
    apns_headers,
    apns_payload,
    apns_result,
    fcm_message,
    fcm_result,
)
from server.pushing import Notice, Outcome
from server.settings import Settings

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def fcm_error(status: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": 0, "message": "", "status": status, "details": list(details)}}


def code(error_code: str) -> dict[str, Any]:
    return {"@type": FCM_ERROR, "errorCode": error_code}


def violation(field: str) -> dict[str, Any]:
    return {"@type": BAD_REQUEST, "fieldViolations": [{"field": field, "description": ""}]}


@pytest.mark.parametrize(
    ("status", "error", "retry_after", "expected"),
    [
        (200, {}, None, (Outcome.SENT, 0)),
        (404, fcm_error("NOT_FOUND", code("UNREGISTERED")), None, (Outcome.GONE, 0)),
        (404, fcm_error("NOT_FOUND"), None, (Outcome.REFUSED, 0)),  # a wrong URL, not a token
        (400, fcm_error("INVALID_ARGUMENT", code("INVALID_ARGUMENT")), None, (Outcome.GONE, 0)),
        (400, fcm_error("INVALID_ARGUMENT", violation("message.token")), None, (Outcome.GONE, 0)),
        # Our message was wrong, not the token: the device stays.
        (400, fcm_error("INVALID_ARGUMENT", violation("message.data[0].value")), None,
         (Outcome.REFUSED, 0)),
        (400, {}, None, (Outcome.REFUSED, 0)),
        (403, fcm_error("PERMISSION_DENIED", code("SENDER_ID_MISMATCH")), None,
         (Outcome.REFUSED, 0)),
        (401, fcm_error("UNAUTHENTICATED"), None, (Outcome.REFUSED, 0)),
        (429, fcm_error("RESOURCE_EXHAUSTED", code("QUOTA_EXCEEDED")), "90", (Outcome.RETRY, 90)),
        (503, fcm_error("UNAVAILABLE"), None, (Outcome.RETRY, 60)),
        (500, {}, "soon", (Outcome.RETRY, 60)),
    ],
)  # fmt: skip
def test_what_an_fcm_answer_means(
    status: int, error: dict[str, Any], retry_after: str | None, expected: tuple[Outcome, int]
) -> None:
    result = fcm_result(status, error, retry_after)
    assert (result.outcome, result.retry_after_s) == expected and result.status == status


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        (200, "", Outcome.SENT),
        (410, "Unregistered", Outcome.GONE),
        (410, "ExpiredToken", Outcome.GONE),
        (400, "BadDeviceToken", Outcome.GONE),
        (400, "DeviceTokenNotForTopic", Outcome.GONE),
        (400, "BadCollapseId", Outcome.REFUSED),
        (400, "TopicDisallowed", Outcome.REFUSED),
        (403, "InvalidProviderToken", Outcome.REFUSED),
        (403, "ExpiredProviderToken", Outcome.REFUSED),  # after the one renewal
        (413, "PayloadTooLarge", Outcome.REFUSED),
        (429, "TooManyRequests", Outcome.RETRY),
        (500, "InternalServerError", Outcome.RETRY),
        (503, "ServiceUnavailable", Outcome.RETRY),
    ],
)
def test_what_an_apns_answer_means(status: int, reason: str, expected: Outcome) -> None:
    assert apns_result(status, reason, None).outcome is expected
    assert apns_result(429, "TooManyRequests", "15").retry_after_s == 15


@pytest.mark.parametrize(
    ("notice", "alert"),
    [
        (Notice(7, 1), {"loc-key": "NEW_MESSAGE"}),
        (Notice(7, 12), {"loc-key": "NEW_MESSAGES", "loc-args": ["12"]}),
        (Notice(0, 2, "appointment"), {"loc-key": "APPOINTMENT_CHANGED"}),
        (Notice(0, 1, "reminder"), {"loc-key": "APPOINTMENT_REMINDER"}),
    ],
)
def test_an_alert_is_a_key_the_app_translates(notice: Notice, alert: dict[str, Any]) -> None:
    assert apns_payload(notice)["aps"]["alert"] == alert


def test_every_fcm_data_value_is_a_string_of_the_notices_fields() -> None:
    notice = Notice(7, 2, "reminder", quiet=True, envelope=b"\x00\xff", id=9)
    data = fcm_message("t", notice)["message"]["data"]
    assert data == {
        "id": "9",
        "thread": "7",
        "count": "2",
        "kind": "reminder",
        "quiet": "true",
        "envelope": "AP8",
    }


@pytest.mark.parametrize("size", [3100, 64 * 1024])
def test_a_preview_too_large_for_the_service_is_left_out(size: int) -> None:
    notice = Notice(7, 2, envelope=bytes(size), id=9)
    data = fcm_message("t", notice)["message"]["data"]
    payload = apns_payload(notice)
    assert "envelope" not in data and data["count"] == "2"
    assert "envelope" not in payload and "mutable-content" not in payload["aps"]
    small = Notice(7, 2, envelope=bytes(2000), id=9)
    assert "envelope" in fcm_message("t", small)["message"]["data"]
    assert apns_payload(small)["aps"]["mutable-content"] == 1


def test_quiet_is_quiet_on_both_platforms() -> None:
    notice = Notice(7, 3, quiet=True, envelope=b"sealed")
    assert apns_payload(notice)["aps"] == {"badge": 3}  # no banner, sound, nor extension
    assert apns_headers(notice, "org.example", 1000)["apns-priority"] == "5"
    assert fcm_message("t", notice)["message"]["android"]["priority"] == "NORMAL"


def test_apns_headers_expire_a_day_later_and_collapse_per_thread() -> None:
    headers = apns_headers(Notice(0, 1, "reminder"), "org.example", 1_000)
    assert headers == {
        "apns-topic": "org.example",
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-collapse-id": "appointments",
        "apns-expiration": str(1_000 + 86_400),
        "content-type": "application/json",
    }


async def test_an_unconfigured_platform_has_no_sender() -> None:
    assert FcmSender.from_settings(Settings()) is None
    assert ApnsSender.from_settings(Settings()) is None


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"project_id": "p"}),
        json.dumps(
            {
                "project_id": "p",
                "client_email": "e",
                "private_key_id": "k",
                "token_uri": "https://oauth2.googleapis.com/token",
                "private_key": pem(ec.generate_private_key(ec.SECP256R1())),
            }
        ),
    ],
)
def test_a_service_account_file_that_cannot_serve_fails_at_start(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "account.json"
    path.write_text(content)
    with pytest.raises(MobilePushError, match=r"account\.json"):
        FcmSender.from_settings(Settings(fcm_credentials_file=str(path)))


def test_an_apns_key_that_cannot_serve_fails_at_start(tmp_path: Path) -> None:
    path = tmp_path / "AuthKey.p8"
    path.write_text(pem(rsa.generate_private_key(65537, 2048)))
    complete = Settings(
        apns_key_file=str(path), apns_key_id="K", apns_team_id="T", apns_topic="org.example"
    )
    with pytest.raises(MobilePushError, match="P-256"):
        ApnsSender.from_settings(complete)
    with pytest.raises(MobilePushError, match="apns_team_id"):
        ApnsSender.from_settings(complete.replace(apns_team_id=""))
    with pytest.raises(MobilePushError, match=r"missing\.p8"):
        ApnsSender.from_settings(complete.replace(apns_key_file=str(tmp_path / "missing.p8")))
