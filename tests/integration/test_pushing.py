"""One push to a push service on loopback: VAPID as the service checks it,
a payload only the browser's keys open (an independent decoder, http_ece),
holding no name and no word, a topic per thread; and what the server makes
of the service's answers."""

from __future__ import annotations

import json
import os

import http_ece
import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from server.pushing import Notice, Outcome, push
from server.webpush import VapidKey, b64url, unb64url
from storage import PushTarget
from tests.support.pushservice import PushService, push_service

CONTACT = "mailto:ops@practice.example"


def subscribed(
    service: PushService, name: str
) -> tuple[PushTarget, ec.EllipticCurvePrivateKey, bytes]:
    """A browser's subscription at ``service``: its keys stay with the test."""
    key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    target = PushTarget(7, 3, service.endpoint(name), b64url(point), b64url(auth), False)
    return target, key, auth


def vapid_claims(header: str, origin: str) -> dict:
    """The token's claims, once its signature verifies under the key it names."""
    token, public = header.removeprefix("vapid t=").split(", k=")
    head, claims, signature = token.split(".")
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public))
    verifier.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    decoded = json.loads(unb64url(claims))
    assert decoded["aud"] == origin
    return decoded


async def test_a_push_is_what_a_push_service_accepts_and_says_nothing() -> None:
    vapid = VapidKey.generate()
    async with push_service() as service, httpx.AsyncClient() as http:
        target, key, auth = subscribed(service, "phone")
        result = await push(http, vapid, CONTACT, target, Notice(thread=42, count=3, id=9))
    assert (result.outcome, result.status) == (Outcome.SENT, 201)
    [got] = service.received
    assert vapid_claims(got.headers["authorization"], service.origin)["sub"] == CONTACT
    assert got.headers["content-encoding"] == "aes128gcm"
    assert (got.headers["ttl"], got.headers["urgency"], got.headers["topic"]) == (
        "86400",
        "high",
        "thread-42",
    )
    opened = http_ece.decrypt(got.body, private_key=key, auth_secret=auth, version="aes128gcm")
    assert json.loads(opened) == {"id": 9, "thread": 42, "count": 3, "kind": "message"}


async def test_what_the_service_answers_decides_what_follows() -> None:
    vapid = VapidKey.generate()
    async with push_service() as service, httpx.AsyncClient() as http:
        gone, _, _ = subscribed(service, "gone-1")
        busy, _, _ = subscribed(service, "busy-1")
        assert (await push(http, vapid, CONTACT, gone, Notice(1, 1))).outcome is Outcome.GONE
        later = await push(http, vapid, CONTACT, busy, Notice(1, 1, "reminder"))
    assert (later.outcome, later.retry_after_s) == (Outcome.RETRY, 7)
    assert service.received[-1].headers["urgency"] == "normal"


async def test_an_unreachable_service_is_tried_again_later() -> None:
    vapid = VapidKey.generate()
    async with push_service() as service:
        target, _, _ = subscribed(service, "phone")
    async with httpx.AsyncClient() as http:  # the service has stopped
        result = await push(http, vapid, CONTACT, target, Notice(1, 1))
    assert result.outcome is Outcome.RETRY and result.retry_after_s > 0
