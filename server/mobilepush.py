"""Pushes to the mobile apps: FCM HTTP v1 (Android) and APNs (iOS).

A push says what a Web Push says, ``Notice.fields()``: a thread, a count, a
kind, the outbox entry's id, ``quiet``, and for a device showing previews
the newest message sealed for it. No name, no word, no reason. Each app
shows a generic notification in its own language (Android: a data message
the app renders; iOS: a ``loc-key`` of the app's ``Localizable.strings``).

Both services authenticate this deployment with a signed JWT:

- FCM: an RS256 JWT signed with the Firebase service account's key is
  exchanged for an OAuth2 access token (RFC 7523 bearer grant), kept until
  shortly before it expires, and renewed when FCM answers 401.
- APNs: an ES256 JWT signed with the ``.p8`` auth key is itself the bearer
  token, kept 50 minutes (Apple refuses one older than an hour), renewed
  when APNs answers ``403 ExpiredProviderToken``.

What a service answers becomes a ``Result``: ``GONE`` forgets the device's
token, ``RETRY`` has the outbox try later, ``REFUSED`` is logged (here, with
the service's reason) and dropped.

Errors::

    MobilePushError      a credentials file or setting that cannot be used
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from server.clock import Clock
from server.jwt import es256, rs256
from server.pushing import RETRY_DEFAULT_S, TIMEOUT_S, TTL_S, Notice, Outcome, Result
from server.settings import Settings
from storage import PushTarget

__all__ = [
    "ApnsSender",
    "FcmSender",
    "MobilePushError",
    "ServiceAccount",
    "apns_headers",
    "apns_payload",
    "apns_result",
    "fcm_message",
    "fcm_result",
    "load_apns_key",
]

log = logging.getLogger(__name__)

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"  # RFC 7523 §2.1
ASSERTION_LIFETIME_S = 3600  # Google accepts at most an hour
TOKEN_MARGIN_S = 300  # an access token is renewed this long before it expires
FCM_DATA_LIMIT = 4096  # bytes of data keys and values (FCM's ErrorCode reference)
APNS_PAYLOAD_LIMIT = 4096  # bytes of JSON for an alert push
APNS_TOKEN_LIFETIME_S = 50 * 60  # Apple: at most an hour old, renewed at most every 20 min
# A device token as the app hands it over (hex; Apple does not fix its length).
# Checked before it goes into a URL path.
DEVICE_TOKEN = re.compile(r"[0-9a-f]{16,400}")

# Which FCM answers mean that a registration token will never work again:
# "Best practices for FCM registration token management" (404 UNREGISTERED;
# 400 INVALID_ARGUMENT about the token itself).
UNREGISTERED = "UNREGISTERED"
# APNs reasons (besides 410) meaning the same.
APNS_GONE_REASONS = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic"})


class MobilePushError(ValueError):
    """A credentials file or setting of a mobile platform that cannot be used."""


def _json(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _collapse_id(notice: Notice) -> str:
    """One notification per thread (per service: FCM's collapse key, APNs'
    collapse id and thread id); appointments share one."""
    return "appointments" if notice.thread == 0 else notice.topic


def _without_envelope(notice: Notice) -> Notice:
    """A sealed message too large for the service goes without its preview:
    the app fetches the message when opened."""
    return dataclasses.replace(notice, envelope=None)


def _retry_after(value: str | None) -> int:
    return int(value) if value is not None and value.isdigit() else RETRY_DEFAULT_S


def _error_body(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# FCM HTTP v1 ---------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAccount:
    """A Firebase service account's JSON key (Firebase console → Project
    settings → Service accounts → Generate new private key)."""

    project_id: str
    client_email: str
    key_id: str
    key: rsa.RSAPrivateKey
    token_uri: str

    @classmethod
    def load(cls, path: Path) -> ServiceAccount:
        try:
            data = json.loads(path.read_text())
            key = serialization.load_pem_private_key(data["private_key"].encode(), password=None)
            project_id, client_email, key_id, token_uri = (
                str(data[name])
                for name in ("project_id", "client_email", "private_key_id", "token_uri")
            )
        except (OSError, ValueError, KeyError, TypeError, UnsupportedAlgorithm) as exc:
            raise MobilePushError(f"{path}: not a service account key: {exc!r}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise MobilePushError(f"{path}: private_key is not an RSA key")
        return cls(project_id, client_email, key_id, key, token_uri)

    def assertion(self, now_s: int) -> str:
        """The JWT exchanged for an access token (RS256, RFC 7523 §3)."""
        header = {"typ": "JWT", "kid": self.key_id}
        claims = {
            "iss": self.client_email,
            "scope": FCM_SCOPE,
            "aud": self.token_uri,
            "iat": now_s,
            "exp": now_s + ASSERTION_LIFETIME_S,
        }
        return rs256(self.key, header, claims)


def fcm_message(token: str, notice: Notice) -> dict[str, Any]:
    """The body of ``messages:send``: a data message only (the app renders
    the notification), every data value a string as FCM requires."""
    data = _fcm_data(notice)
    if sum(len(key.encode()) + len(value.encode()) for key, value in data.items()) > FCM_DATA_LIMIT:
        data = _fcm_data(_without_envelope(notice))
    android = {
        "priority": "NORMAL" if notice.quiet else "HIGH",
        "collapse_key": _collapse_id(notice),
        "ttl": f"{TTL_S}s",
    }
    return {"message": {"token": token, "data": data, "android": android}}


def _fcm_data(notice: Notice) -> dict[str, str]:
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in notice.fields().items()
    }


def fcm_result(status: int, error: dict[str, Any], retry_after: str | None) -> Result:
    """What an answer of ``messages:send`` means (FCM's ErrorCode reference).

    A 403 ``SENDER_ID_MISMATCH`` is refused, not gone: it means as often
    that this deployment holds another Firebase project's credentials (then
    forgetting would erase every Android device) as that one token was made
    for another project."""
    if 200 <= status < 300:
        return Result(Outcome.SENT, status)
    if status == 404 and UNREGISTERED in _fcm_error_codes(error):
        return Result(Outcome.GONE, status)
    if status == 400 and _fcm_token_invalid(error):
        return Result(Outcome.GONE, status)
    if status == 429 or status >= 500:
        return Result(Outcome.RETRY, status, _retry_after(retry_after))
    return Result(Outcome.REFUSED, status)


def _fcm_details(error: dict[str, Any]) -> list[dict[str, Any]]:
    status = error.get("error")
    details = status.get("details") if isinstance(status, dict) else None
    return [detail for detail in details or [] if isinstance(detail, dict)]


def _fcm_error_codes(error: dict[str, Any]) -> set[str]:
    return {str(detail["errorCode"]) for detail in _fcm_details(error) if "errorCode" in detail}


def _fcm_token_invalid(error: dict[str, Any]) -> bool:
    """Whether a 400 is about the registration token, not about our message:
    a field violation names only ``message.token``; without one, FCM's own
    error code says INVALID_ARGUMENT (its example of an invalid token)."""
    fields = [
        violation.get("field")
        for detail in _fcm_details(error)
        for violation in detail.get("fieldViolations", [])
        if isinstance(violation, dict)
    ]
    if fields:
        return all(field == "message.token" for field in fields)
    return "INVALID_ARGUMENT" in _fcm_error_codes(error)


def _fcm_reason(error: dict[str, Any]) -> str:
    status = error.get("error")
    words = [str(status.get("status", ""))] if isinstance(status, dict) else []
    return " ".join([*words, *sorted(_fcm_error_codes(error))])


@dataclass(frozen=True, slots=True)
class _AccessToken:
    value: str
    renew_at_ms: int


class _NoToken(Exception):
    """The token endpoint gave no access token; ``result`` says what follows."""

    def __init__(self, result: Result) -> None:
        super().__init__(result)
        self.result = result


class FcmSender:
    """Sends pushes to Android apps through FCM HTTP v1.

    Args:
        account: the Firebase service account.
        url: FCM's origin (``Settings.fcm_url``).
        http: the client to use (the sender closes it); by default one that
            verifies certificates against the system's CAs.
        clock: the time tokens are made and kept by.
    """

    def __init__(
        self,
        account: ServiceAccount,
        url: str,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.account = account
        self.endpoint = f"{url.rstrip('/')}/v1/projects/{account.project_id}/messages:send"
        self.http = http or httpx.AsyncClient(follow_redirects=False, timeout=TIMEOUT_S)
        self.clock = clock or Clock()
        self._token: _AccessToken | None = None
        self._renewing = asyncio.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
    ) -> Self | None:
        """None when FCM is not configured (no credentials file)."""
        if not settings.fcm_credentials_file:
            return None
        account = ServiceAccount.load(Path(settings.fcm_credentials_file))
        return cls(account, settings.fcm_url, http=http, clock=clock)

    async def send(self, target: PushTarget, notice: Notice) -> Result:
        body = fcm_message(target.endpoint, notice)
        try:
            token = await self._access_token()
            answer = await self._post(body, token)
            if answer.status_code == 401:  # revoked or expired early: one new token
                answer = await self._post(body, await self._access_token(stale=token))
        except _NoToken as failed:
            return failed.result
        except httpx.HTTPError:
            return Result(Outcome.RETRY, None, RETRY_DEFAULT_S)
        error = _error_body(answer) if answer.status_code >= 300 else {}
        result = fcm_result(answer.status_code, error, answer.headers.get("retry-after"))
        if result.outcome is Outcome.REFUSED:
            log.warning("FCM refused push %d: %d %s", notice.id, result.status, _fcm_reason(error))
        return result

    async def close(self) -> None:
        await self.http.aclose()

    async def _post(self, body: dict[str, Any], token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        return await self.http.post(self.endpoint, content=_json(body), headers=headers)

    async def _access_token(self, stale: str | None = None) -> str:
        """The cached access token, or a new one when it is due or is
        ``stale`` (FCM refused it): one exchange for any number of sends."""
        async with self._renewing:
            cached = self._token
            if cached and cached.value != stale and self.clock.ms() < cached.renew_at_ms:
                return cached.value
            self._token = await self._exchange()
            return self._token.value

    async def _exchange(self) -> _AccessToken:
        now_ms = self.clock.ms()
        form = {"grant_type": JWT_BEARER, "assertion": self.account.assertion(now_ms // 1000)}
        try:
            answer = await self.http.post(self.account.token_uri, data=form)
        except httpx.HTTPError:
            raise _NoToken(Result(Outcome.RETRY, None, RETRY_DEFAULT_S)) from None
        grant = _error_body(answer)
        token, lifetime = grant.get("access_token"), grant.get("expires_in")
        if answer.status_code == 200 and isinstance(token, str) and isinstance(lifetime, int):
            keep_s = max(lifetime - TOKEN_MARGIN_S, lifetime // 2)
            return _AccessToken(token, now_ms + keep_s * 1000)
        status = answer.status_code
        if status == 429 or status >= 500:
            retry = _retry_after(answer.headers.get("retry-after"))
            raise _NoToken(Result(Outcome.RETRY, status, retry))
        log.warning("FCM token endpoint refused the service account: %d %s", status, grant)
        raise _NoToken(Result(Outcome.REFUSED, status))


# APNs ----------------------------------------------------------------------

LOC_KEYS = {"appointment": "APPOINTMENT_CHANGED", "reminder": "APPOINTMENT_REMINDER"}


def apns_payload(notice: Notice) -> dict[str, Any]:
    """The JSON body: ``aps`` for iOS, then the notice's fields for the app.

    Quiet: the badge only (no banner, no sound). Otherwise a localized
    alert, and ``mutable-content`` when an envelope comes along, so the
    app's Notification Service Extension can open it for the preview."""
    payload = _apns_payload(notice)
    if len(_json(payload)) > APNS_PAYLOAD_LIMIT:
        payload = _apns_payload(_without_envelope(notice))
    return payload


def _apns_payload(notice: Notice) -> dict[str, Any]:
    aps: dict[str, Any] = {}
    if not notice.quiet:
        aps["alert"] = _alert(notice)
    aps["badge"] = notice.count
    if not notice.quiet:
        aps["sound"] = "default"
        aps["thread-id"] = _collapse_id(notice)
        if notice.envelope is not None:
            aps["mutable-content"] = 1
    return {"aps": aps, **notice.fields()}


def _alert(notice: Notice) -> dict[str, Any]:
    if notice.kind in LOC_KEYS:
        return {"loc-key": LOC_KEYS[notice.kind]}
    if notice.count == 1:
        return {"loc-key": "NEW_MESSAGE"}
    return {"loc-key": "NEW_MESSAGES", "loc-args": [str(notice.count)]}


def apns_headers(notice: Notice, topic: str, now_s: int) -> dict[str, str]:
    """The request's headers but ``authorization`` (Apple's "Sending
    notification requests to APNs")."""
    return {
        "apns-topic": topic,
        "apns-push-type": "alert",  # alert, badge or sound: even a quiet one
        "apns-priority": "5" if notice.quiet else "10",
        "apns-collapse-id": _collapse_id(notice),
        "apns-expiration": str(now_s + TTL_S),
        "content-type": "application/json",
    }


def apns_result(status: int, reason: str, retry_after: str | None) -> Result:
    """What an APNs answer means (Apple's "Handling notification responses")."""
    if status == 200:
        return Result(Outcome.SENT, status)
    if status == 410 or (status == 400 and reason in APNS_GONE_REASONS):
        return Result(Outcome.GONE, status)
    if status == 429 or status >= 500:
        return Result(Outcome.RETRY, status, _retry_after(retry_after))
    return Result(Outcome.REFUSED, status)


@dataclass(frozen=True, slots=True)
class _ProviderToken:
    value: str
    issued_s: int


class ApnsSender:
    """Sends pushes to iOS apps through APNs over HTTP/2, with a token.

    Args:
        key: the APNs auth key (P-256), from its ``.p8`` file.
        key_id: the key's id (Apple developer account → Keys).
        team_id: the developer account's team id.
        topic: the iOS app's bundle id.
        url: APNs' origin: production, or the sandbox for development builds.
        http: the client to use (the sender closes it); by default HTTP/2
            verifying certificates against the system's CAs.
        clock: the time tokens are made and kept by.
    """

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        key_id: str,
        team_id: str,
        topic: str,
        url: str,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.key = key
        self.key_id = key_id
        self.team_id = team_id
        self.topic = topic
        self.url = url.rstrip("/")
        self.http = http or httpx.AsyncClient(http2=True, follow_redirects=False, timeout=TIMEOUT_S)
        self.clock = clock or Clock()
        self._token: _ProviderToken | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
    ) -> Self | None:
        """None when APNs is not configured (no key file)."""
        if not settings.apns_key_file:
            return None
        for name in ("apns_key_id", "apns_team_id", "apns_topic"):
            if not getattr(settings, name):
                raise MobilePushError(f"apns_key_file is set but {name} is empty")
        key = load_apns_key(Path(settings.apns_key_file))
        return cls(
            key,
            settings.apns_key_id,
            settings.apns_team_id,
            settings.apns_topic,
            settings.apns_url,
            http=http,
            clock=clock,
        )

    async def send(self, target: PushTarget, notice: Notice) -> Result:
        device = target.endpoint.lower()
        if not DEVICE_TOKEN.fullmatch(device):
            return Result(Outcome.GONE)  # no app hands over such a token
        url = f"{self.url}/3/device/{device}"
        headers = apns_headers(notice, self.topic, self.clock.ms() // 1000)
        body = _json(apns_payload(notice))
        try:
            token = self._provider_token()
            answer = await self._post(url, headers, body, token)
            if answer.status_code == 403 and _reason(answer) == "ExpiredProviderToken":
                answer = await self._post(url, headers, body, self._provider_token(stale=token))
        except httpx.HTTPError:
            return Result(Outcome.RETRY, None, RETRY_DEFAULT_S)
        reason = _reason(answer)
        result = apns_result(answer.status_code, reason, answer.headers.get("retry-after"))
        if result.outcome is Outcome.REFUSED:
            log.warning("APNs refused push %d: %d %s", notice.id, result.status, reason)
        return result

    async def close(self) -> None:
        await self.http.aclose()

    async def _post(
        self, url: str, headers: dict[str, str], body: bytes, token: str
    ) -> httpx.Response:
        headers = {"authorization": f"bearer {token}", **headers}
        return await self.http.post(url, content=body, headers=headers)

    def _provider_token(self, stale: str | None = None) -> str:
        """The JWT of the last 50 minutes, or a new one (also when APNs said
        ``stale`` has expired): one for any number of pushes."""
        now_s = self.clock.ms() // 1000
        cached = self._token
        if cached and cached.value != stale and now_s - cached.issued_s < APNS_TOKEN_LIFETIME_S:
            return cached.value
        value = es256(self.key, {"kid": self.key_id}, {"iss": self.team_id, "iat": now_s})
        self._token = _ProviderToken(value, now_s)
        return value


def load_apns_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The P-256 key of an APNs auth key's ``.p8`` file (PKCS#8 PEM)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise MobilePushError(f"{path}: not an APNs auth key: {exc!r}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise MobilePushError(f"{path}: an APNs auth key is a P-256 EC key")
    return key


def _reason(answer: httpx.Response) -> str:
    return str(_error_body(answer).get("reason", "")) if answer.status_code != 200 else ""
