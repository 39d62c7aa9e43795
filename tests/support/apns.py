"""Apple's push service (APNs) on loopback, for the tests: HTTP/2 over TLS
(hypercorn, offering only ``h2``), answering as Apple documents in
"Handling notification responses from APNs", so the server's requests cross
a real socket and are checked as APNs would check them:

- the request came over HTTP/2, as a POST to ``/3/device/<hex token>``;
- ``authorization: bearer <JWT>``: ES256 under the auth key's public half,
  ``kid`` the key's id, ``iss`` the team, ``iat`` under an hour old (403
  MissingProviderToken, InvalidProviderToken, ExpiredProviderToken);
- ``apns-topic`` the app's bundle id, ``apns-push-type`` a known type,
  ``apns-priority`` 10, 5 or 1, ``apns-collapse-id`` at most 64 bytes,
  ``apns-expiration`` a UNIX time, no header twice (400 with Apple's reasons);
- a JSON payload of at most 4096 bytes (413 PayloadTooLarge) whose ``aps``
  holds only Apple's keys, typed as Apple documents them (an alert push with
  an alert, badge or sound). Apple names no reason for a badly typed
  ``aps``: this fake answers 400 ``BadPayload`` to make it visible.

Every refusal's reason is also kept in ``refusals``. A test can script the
next answer for a device (``fail``), or make every token seen so far
expired (``expire_tokens``). The auth key (``.p8``), a CA and the server's
certificate are made at test time; nothing is committed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import ipaddress
import json
import re
import secrets
import socket
import ssl
import string
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.clock import Clock

__all__ = ["ApnsRequest", "FakeApns", "apns_service"]

TOPIC = "org.carehub.app"
PUSH_TYPES = {
    "alert",
    "background",
    "location",
    "voip",
    "complication",
    "fileprovider",
    "mdm",
    "liveactivity",
    "pushtotalk",
}
APS_KEYS = {
    "alert",
    "badge",
    "sound",
    "thread-id",
    "category",
    "content-available",
    "mutable-content",
    "target-content-id",
    "interruption-level",
    "relevance-score",
    "filter-criteria",
}
ALERT_KEYS = {
    "title",
    "subtitle",
    "body",
    "launch-image",
    "title-loc-key",
    "title-loc-args",
    "subtitle-loc-key",
    "subtitle-loc-args",
    "loc-key",
    "loc-args",
}
HEX_TOKEN = re.compile(r"[0-9a-fA-F]{64}")
PAYLOAD_LIMIT = 4096
TOKEN_MAX_AGE_S = 3600


class Refusal(Exception):
    """What APNs answers a request it will not take: a status and a reason."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.headers = headers or {}


class Scripted(Refusal):
    """An answer a test asked for (not a check that failed)."""


@dataclass(frozen=True)
class ApnsRequest:
    """A push APNs took (it passed every check)."""

    device: str
    http_version: str
    headers: dict[str, str]
    payload: dict[str, Any]
    token_header: dict[str, Any]
    token_claims: dict[str, Any]


@dataclass
class FakeApns:
    origin: str
    key_file: Path
    key_id: str
    team_id: str
    ca_file: Path  # the CA that signed this fake's certificate
    public_key: ec.EllipticCurvePublicKey
    clock: Clock
    received: list[ApnsRequest] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    arrivals: asyncio.Queue[ApnsRequest] = field(default_factory=asyncio.Queue)
    scripted: dict[str, list[Scripted]] = field(default_factory=dict)
    tokens_seen: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)

    topic: str = TOPIC

    def client(self, *, http2: bool = True) -> httpx.AsyncClient:
        """An HTTP client that trusts this fake (and nothing else)."""
        trust = ssl.create_default_context(cafile=str(self.ca_file))
        return httpx.AsyncClient(http2=http2, verify=trust, follow_redirects=False)

    def fail(self, device: str, status: int, reason: str, retry_after: int | None = None) -> None:
        """APNs' next answer for ``device``."""
        headers = {} if retry_after is None else {"retry-after": str(retry_after)}
        self.scripted.setdefault(device, []).append(Scripted(status, reason, headers))

    def expire_tokens(self) -> None:
        """Every provider token seen so far is refused as expired from now on."""
        self.expired |= self.tokens_seen

    async def next(self, timeout: float = 10) -> ApnsRequest:
        return await asyncio.wait_for(self.arrivals.get(), timeout)

    def take(self, device: str, version: str, raw: list[tuple[bytes, bytes]], body: bytes) -> None:
        """One push: recorded, or a Refusal."""
        if version != "2":
            raise Refusal(505, f"HTTP/{version}: APNs speaks only HTTP/2")
        headers = _single_headers(raw)
        token_header, claims = self._provider_token(headers.get("authorization"))
        _check_headers(headers, self.topic, self.clock.ms() // 1000)
        if not HEX_TOKEN.fullmatch(device):
            raise Refusal(400, "BadDeviceToken")
        payload = _checked_payload(body, headers["apns-push-type"])
        got = ApnsRequest(device, version, headers, payload, token_header, claims)
        self.received.append(got)
        self.arrivals.put_nowait(got)
        scripted = self.scripted.get(device, [])
        if scripted:
            raise scripted.pop(0)

    def _provider_token(self, authorization: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        if authorization is None:
            raise Refusal(403, "MissingProviderToken")
        scheme, _, token = authorization.partition(" ")
        try:
            head, body, signature = token.split(".")
            header, claims = json.loads(_unb64url(head)), json.loads(_unb64url(body))
            raw = _unb64url(signature)
            der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
            self.public_key.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        except (ValueError, InvalidSignature):
            raise Refusal(403, "InvalidProviderToken") from None
        valid = scheme == "bearer" and len(raw) == 64 and header.get("alg") == "ES256"
        if not valid or header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            raise Refusal(403, "InvalidProviderToken")
        self.tokens_seen.add(token)
        iat, now_s = claims.get("iat"), self.clock.ms() // 1000
        if not isinstance(iat, int) or iat > now_s + 60:
            raise Refusal(403, "InvalidProviderToken")
        if now_s - iat > TOKEN_MAX_AGE_S or token in self.expired:
            raise Refusal(403, "ExpiredProviderToken")
        return header, claims


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _single_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        if key in headers:
            raise Refusal(400, "DuplicateHeaders")
        headers[key] = value.decode("latin-1")
    return headers


def _check_headers(headers: dict[str, str], topic: str, now_s: int) -> None:
    if "apns-topic" not in headers:
        raise Refusal(400, "MissingTopic")
    if headers["apns-topic"] != topic:
        raise Refusal(400, "TopicDisallowed")
    if headers.get("apns-push-type") not in PUSH_TYPES:
        raise Refusal(400, "InvalidPushType")
    if headers.get("apns-priority", "10") not in ("10", "5", "1"):
        raise Refusal(400, "BadPriority")
    if len(headers.get("apns-collapse-id", "").encode()) > 64:
        raise Refusal(400, "BadCollapseId")
    expiration = headers.get("apns-expiration", "0")
    if not expiration.isdigit() or 0 < int(expiration) < now_s - 60:
        raise Refusal(400, "BadExpirationDate")


def _checked_payload(body: bytes, push_type: str) -> dict[str, Any]:
    if not body:
        raise Refusal(400, "PayloadEmpty")
    if len(body) > PAYLOAD_LIMIT:
        raise Refusal(413, "PayloadTooLarge")
    try:
        payload = json.loads(body)
    except ValueError:
        raise Refusal(400, "BadPayload") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
        raise Refusal(400, "BadPayload")
    _check_aps(payload["aps"], push_type)
    return payload


def _check_aps(aps: dict[str, Any], push_type: str) -> None:
    alert = aps.get("alert", {})
    alert = {"body": alert} if isinstance(alert, str) else alert
    if not (aps.keys() <= APS_KEYS and isinstance(alert, dict) and alert.keys() <= ALERT_KEYS):
        raise Refusal(400, "BadPayload")
    texts = [aps.get("sound", ""), aps.get("thread-id", ""), alert.get("loc-key", "")]
    args, badge = alert.get("loc-args", []), aps.get("badge", 0)
    if not all(isinstance(text, str) for text in texts) or not isinstance(args, list):
        raise Refusal(400, "BadPayload")
    if not all(isinstance(arg, str) for arg in args):
        raise Refusal(400, "BadPayload")
    if type(badge) is not int or badge < 0 or aps.get("mutable-content", 1) != 1:
        raise Refusal(400, "BadPayload")
    if push_type == "alert" and not aps.keys() & {"alert", "badge", "sound"}:
        raise Refusal(400, "BadPayload")


def _app(apns: FakeApns) -> Starlette:
    async def push(request: Request) -> Response:
        version = str(request.scope.get("http_version"))
        try:
            apns.take(
                request.path_params["device"],
                version,
                request.scope["headers"],
                await request.body(),
            )
        except Refusal as refusal:
            if not isinstance(refusal, Scripted):
                apns.refusals.append(str(refusal))
            body: dict[str, Any] = {"reason": refusal.reason}
            if refusal.status == 410:
                body["timestamp"] = apns.clock.ms()
            headers = {"apns-id": str(uuid.uuid4()), **refusal.headers}
            return JSONResponse(body, refusal.status, headers=headers)
        return Response(status_code=200, headers={"apns-id": str(uuid.uuid4())})

    return Starlette(routes=[Route("/3/device/{device}", push, methods=["POST"])])


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate it signed for 127.0.0.1: (ca, cert, key) files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "carehub test CA")])
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    cert = (
        _builder(name, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([address]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = directory / "apns-ca.pem", directory / "apns-cert.pem", directory / "apns-key.pem"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(_pkcs8(key))
    return files


def _builder(
    subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _pkcs8(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _identifier() -> str:
    """A key or team id as Apple writes them: ten capitals and digits."""
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(10))


@contextlib.asynccontextmanager
async def apns_service(directory: Path, clock: Clock | None = None) -> AsyncIterator[FakeApns]:
    """APNs on a free loopback port (HTTPS, HTTP/2 only) until the block
    ends; the auth key (``AuthKey_<id>.p8``) and certificates go into
    ``directory``."""
    ca_file, cert_file, key_file = _certificates(directory)
    auth_key = ec.generate_private_key(ec.SECP256R1())
    key_id = _identifier()
    p8 = directory / f"AuthKey_{key_id}.p8"
    p8.write_bytes(_pkcs8(auth_key))
    listening = socket.create_server(("127.0.0.1", 0))
    origin = f"https://127.0.0.1:{listening.getsockname()[1]}"
    fake = FakeApns(
        origin, p8, key_id, _identifier(), ca_file, auth_key.public_key(), clock or Clock()
    )
    config = Config()
    config.certfile, config.keyfile = str(cert_file), str(key_file)
    config.alpn_protocols = ["h2"]  # APNs speaks nothing else
    config.bind = [f"fd://{listening.detach()}"]  # hypercorn takes the socket over
    config.loglevel = "WARNING"
    stop = asyncio.Event()
    app: Any = _app(fake)  # an ASGI app; hypercorn's types and Starlette's differ
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    try:
        yield fake
    finally:
        stop.set()
        await task
