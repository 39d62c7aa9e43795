"""Firebase Cloud Messaging on loopback, for the tests: Google's OAuth2
token endpoint and FCM's HTTP v1 ``messages:send``, each checking a request
as the real one does, so the server's requests cross a real socket.

- The token endpoint takes only the JWT bearer grant (RFC 7523) whose
  assertion verifies under the service account's public key (RS256) and
  names the account, the FCM scope, the endpoint and a live hour; it
  answers an access token as Google does (``expires_in`` 3599).
- ``messages:send`` takes only a live access token, the account's project,
  and a message FCM would accept: known fields, one target, string data
  values, no reserved data key, at most 4096 bytes of data, an Android
  priority and a ``ttl`` in FCM's duration format. It refuses as FCM does
  (a JSON error with a status and details); every refusal's reason is also
  kept in ``refusals``.
- A test can script FCM's next answer for a registration token
  (``fail``), or revoke every access token given (``revoke_tokens``).

The service account's JSON key is made at test time (``credentials_file``),
like the one the Firebase console hands out; nothing is committed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
import urllib.parse
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.clock import Clock
from tests.support.pushservice import serving

__all__ = ["FakeFcm", "FcmRequest", "fcm_service"]

PROJECT = "carehub-test"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME_S = 3599
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
# FCM's error codes and the HTTP status and Google status each comes with.
ERRORS = {
    "UNREGISTERED": (404, "NOT_FOUND"),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED"),
    "UNAVAILABLE": (503, "UNAVAILABLE"),
    "INTERNAL": (500, "INTERNAL"),
}
MESSAGE_FIELDS = {
    "name",
    "data",
    "notification",
    "android",
    "webpush",
    "apns",
    "fcm_options",
    "token",
    "topic",
    "condition",
}
ANDROID_FIELDS = {
    "collapse_key",
    "priority",
    "ttl",
    "restricted_package_name",
    "data",
    "notification",
    "fcm_options",
    "direct_boot_ok",
}
TARGETS = ("token", "topic", "condition")
DURATION = re.compile(r"\d+(\.\d{1,9})?s")
RESERVED_DATA = re.compile(r"(from|message_type|notification|google.*|gcm.*)")
DATA_LIMIT = 4096


class Refusal(Exception):
    """What FCM (or Google's token endpoint) answers a request it will not take."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(json.dumps(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


class Scripted(Refusal):
    """An answer a test asked for (not a check that failed)."""


def _error(status: int, google_status: str, message: str, *details: Any) -> Refusal:
    """An error as Google's APIs write it (google.rpc.Status)."""
    error: dict[str, Any] = {"code": status, "message": message, "status": google_status}
    if details:
        error["details"] = list(details)
    return Refusal(status, {"error": error})


def _violation(field_name: str, description: str) -> Refusal:
    detail = {
        "@type": BAD_REQUEST,
        "fieldViolations": [{"field": field_name, "description": description}],
    }
    return _error(400, "INVALID_ARGUMENT", description, detail)


def _oauth_refusal(error: str, description: str) -> Refusal:
    """An error of the token endpoint (RFC 6749 §5.2)."""
    return Refusal(400, {"error": error, "error_description": description})


@dataclass(frozen=True)
class FcmRequest:
    """A send FCM took (it passed every check)."""

    project: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeFcm:
    origin: str
    credentials_file: Path
    client_email: str
    key_id: str
    public_key: rsa.RSAPublicKey
    clock: Clock
    exchanges: list[dict[str, Any]] = field(default_factory=list)  # accepted assertions' claims
    received: list[FcmRequest] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    arrivals: asyncio.Queue[FcmRequest] = field(default_factory=asyncio.Queue)
    scripted: dict[str, list[Scripted]] = field(default_factory=dict)
    access_tokens: dict[str, int] = field(default_factory=dict)  # token -> expiry (ms)

    @property
    def token_uri(self) -> str:
        return f"{self.origin}/token"

    def fail(self, token: str, code: str, retry_after: int | None = None) -> None:
        """FCM's next answer for registration ``token``: the error ``code``."""
        status, google_status = ERRORS[code]
        error = _error(status, google_status, code, {"@type": FCM_ERROR, "errorCode": code})
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        self.scripted.setdefault(token, []).append(Scripted(status, error.body, headers))

    def revoke_tokens(self) -> None:
        """Every access token given so far is refused from now on (401)."""
        self.access_tokens.clear()

    async def next(self, timeout: float = 10) -> FcmRequest:
        return await asyncio.wait_for(self.arrivals.get(), timeout)

    def grant(self, form: dict[str, str]) -> dict[str, Any]:
        """The token endpoint: an access token for a valid assertion."""
        if form.get("grant_type") != JWT_BEARER:
            raise _oauth_refusal("unsupported_grant_type", "Invalid grant_type.")
        claims = self._verified_claims(form.get("assertion", ""))
        token = f"ya29.fake-{secrets.token_urlsafe(24)}"
        self.access_tokens[token] = self.clock.ms() + TOKEN_LIFETIME_S * 1000
        self.exchanges.append(claims)
        return {"access_token": token, "expires_in": TOKEN_LIFETIME_S, "token_type": "Bearer"}

    def _verified_claims(self, assertion: str) -> dict[str, Any]:
        try:
            head, body, signature = assertion.split(".")
            header, claims = json.loads(_unb64url(head)), json.loads(_unb64url(body))
            self.public_key.verify(
                _unb64url(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (ValueError, InvalidSignature):
            raise _oauth_refusal("invalid_grant", "Invalid JWT Signature.") from None
        if header.get("alg") != "RS256" or header.get("kid") not in (None, self.key_id):
            raise _oauth_refusal("invalid_grant", "Invalid JWT header.")
        if claims.get("iss") != self.client_email:
            raise _oauth_refusal("invalid_grant", "Invalid JWT: iss is not the account.")
        if claims.get("aud") != self.token_uri:
            raise _oauth_refusal("invalid_grant", "Invalid JWT: Token must be a short-lived token")
        if SCOPE not in str(claims.get("scope", "")).split():
            raise _oauth_refusal("invalid_scope", "The FCM scope is missing.")
        now_s = self.clock.ms() // 1000
        iat, exp = claims.get("iat"), claims.get("exp")
        if not (isinstance(iat, int) and isinstance(exp, int)):
            raise _oauth_refusal("invalid_grant", "Invalid JWT: iat and exp are required.")
        if not (iat - 60 <= now_s < exp and exp - iat <= 3600):
            raise _oauth_refusal("invalid_grant", "Invalid JWT: Token must be a short-lived token")
        return dict(claims)

    def send(self, project: str, headers: dict[str, str], raw: bytes) -> dict[str, Any]:
        """``messages:send``: the message's name, or a Refusal."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        expiry = self.access_tokens.get(token, 0)
        if scheme != "Bearer" or expiry <= self.clock.ms():
            raise _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if project != PROJECT:
            raise _error(403, "PERMISSION_DENIED", "Permission denied on the project.")
        if not headers.get("content-type", "").startswith("application/json"):
            raise _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        body = _parsed(raw)
        _check_message(body)
        got = FcmRequest(project, headers, body)
        self.received.append(got)
        self.arrivals.put_nowait(got)
        scripted = self.scripted.get(body["message"].get("token", ""), [])
        if scripted:
            raise scripted.pop(0)
        return {"name": f"projects/{project}/messages/{len(self.received)}"}


def _form(headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    """A form, as the token endpoint takes one (RFC 6749 §4.1.3: urlencoded)."""
    if headers.get("content-type") != "application/x-www-form-urlencoded":
        raise _oauth_refusal("invalid_request", "The request is not a form.")
    try:
        return dict(urllib.parse.parse_qsl(body.decode(), strict_parsing=True))
    except ValueError:
        raise _oauth_refusal("invalid_request", "The form cannot be read.") from None


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parsed(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        raise _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.") from None
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        raise _violation("message", "The message is missing.")
    if unknown := sorted(body.keys() - {"message", "validate_only"}):
        raise _violation("", f"Invalid JSON payload received. Unknown name {unknown}")
    return body


def _check_message(body: dict[str, Any]) -> None:
    message = body["message"]
    if unknown := sorted(message.keys() - MESSAGE_FIELDS):
        raise _violation("message", f"Unknown name {unknown} at 'message'")
    if sum(target in message for target in TARGETS) != 1:
        raise _violation("message", "Exactly one of token, topic or condition is required.")
    token = message.get("token")
    if token is not None and (not isinstance(token, str) or not token):
        raise _violation("message.token", "The registration token is not valid.")
    _check_data("message.data", message.get("data", {}))
    android = message.get("android", {})
    if not isinstance(android, dict):
        raise _violation("message.android", "Invalid value at 'message.android'")
    if unknown := sorted(android.keys() - ANDROID_FIELDS):
        raise _violation("message.android", f"Unknown name {unknown} at 'message.android'")
    if android.get("priority", "NORMAL") not in ("NORMAL", "HIGH"):
        raise _violation("message.android.priority", "Invalid value (TYPE_ENUM)")
    if not DURATION.fullmatch(str(android.get("ttl", "0s"))):
        raise _violation("message.android.ttl", "Illegal duration format")
    if not isinstance(android.get("collapse_key", ""), str):
        raise _violation("message.android.collapse_key", "Invalid value (TYPE_STRING)")


def _check_data(where: str, data: Any) -> None:
    if not isinstance(data, dict):
        raise _violation(where, f"Invalid value at '{where}' (map)")
    size = 0
    for index, (key, value) in enumerate(data.items()):
        if not isinstance(value, str):
            text = f"Invalid value at '{where}[{index}].value' (TYPE_STRING), {value}"
            raise _violation(f"{where}[{index}].value", text)
        if RESERVED_DATA.fullmatch(key):
            raise _violation(where, f"Invalid data payload key: {key}")
        size += len(key.encode()) + len(value.encode())
    if size > DATA_LIMIT:
        raise _violation(where, "Message is too big")


def _app(fcm: FakeFcm) -> Starlette:
    async def token(request: Request) -> Response:
        try:
            return JSONResponse(fcm.grant(_form(request.headers, await request.body())))
        except Refusal as refusal:
            fcm.refusals.append(f"token: {refusal}")
            return JSONResponse(refusal.body, status_code=refusal.status)

    async def send(request: Request) -> Response:
        headers = dict(request.headers)
        try:
            return JSONResponse(
                fcm.send(request.path_params["project"], headers, await request.body())
            )
        except Refusal as refusal:
            if not isinstance(refusal, Scripted):
                fcm.refusals.append(f"send: {refusal}")
            return JSONResponse(refusal.body, refusal.status, headers=refusal.headers)

    return Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/v1/projects/{project}/messages:send", send, methods=["POST"]),
        ]
    )


def _write_service_account(path: Path, key: rsa.RSAPrivateKey, origin: str, key_id: str) -> str:
    """A service account's JSON key as the Firebase console hands it out."""
    email = f"firebase-adminsdk-test@{PROJECT}.iam.gserviceaccount.com"
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    account = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": email,
        "client_id": "100000000000000000000",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": f"{origin}/token",
    }
    path.write_text(json.dumps(account, indent=2))
    return email


@contextlib.asynccontextmanager
async def fcm_service(directory: Path, clock: Clock | None = None) -> AsyncIterator[FakeFcm]:
    """FCM and its token endpoint on a free loopback port until the block
    ends; the service account's key is written into ``directory``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = secrets.token_hex(20)
    path = directory / "firebase-service-account.json"
    fcm = FakeFcm("", path, "", key_id, key.public_key(), clock or Clock())
    async with serving(_app(fcm)) as origin:  # the account names the token endpoint
        fcm.origin = origin
        fcm.client_email = _write_service_account(path, key, origin, key_id)
        yield fcm
