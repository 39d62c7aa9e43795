"""Web Push encryption (RFC 8291) and VAPID (RFC 8292): the RFC's own
example byte for byte, a payload an independent decoder (http_ece) opens,
and a VAPID token a push service would accept."""

from __future__ import annotations

import json
import os
from pathlib import Path

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from server.webpush import PushError, VapidKey, b64url, encrypt, unb64url

# RFC 8291, Appendix A.
PLAINTEXT = b"When I grow up, I want to be a watermelon"
AS_PRIVATE = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"
UA_PUBLIC = (
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
)
SALT = "DGv6ra1nlYgDCS1FRnbzlw"
AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
MESSAGE = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInm"
    "YWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSx"
    "sj_Qulcy4a-fN"
)


def browser_subscription() -> tuple[ec.EllipticCurvePrivateKey, str, bytes]:
    """What a browser makes for a push subscription: a P-256 key and an auth secret."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return key, b64url(point), os.urandom(16)


def test_the_rfc_8291_example_byte_for_byte() -> None:
    sender = ec.derive_private_key(int.from_bytes(unb64url(AS_PRIVATE)), ec.SECP256R1())
    sealed = encrypt(PLAINTEXT, UA_PUBLIC, AUTH, salt=unb64url(SALT), sender=sender)
    assert b64url(sealed) == MESSAGE


def test_an_independent_decoder_opens_the_payload() -> None:
    key, p256dh, auth = browser_subscription()
    payload = json.dumps({"thread": 12, "count": 3, "kind": "message"}).encode()
    sealed = encrypt(payload, p256dh, b64url(auth))
    opened = http_ece.decrypt(sealed, private_key=key, auth_secret=auth, version="aes128gcm")
    assert opened == payload
    assert encrypt(payload, p256dh, b64url(auth)) != sealed  # a fresh salt and key each time


@pytest.mark.parametrize(
    ("p256dh", "auth"),
    [("AAAA", b64url(os.urandom(16))), (UA_PUBLIC, b64url(os.urandom(8))), ("!!", AUTH)],
)
def test_unusable_subscription_keys_are_refused(p256dh: str, auth: str) -> None:
    with pytest.raises(PushError):
        encrypt(b"x", p256dh, auth)


def test_a_vapid_token_verifies_under_the_key_it_names(tmp_path: Path) -> None:
    key = VapidKey.load_or_create(tmp_path / "vapid.pem")
    assert VapidKey.load_or_create(tmp_path / "vapid.pem").public == key.public  # kept
    assert (tmp_path / "vapid.pem").stat().st_mode & 0o777 == 0o600
    header = key.authorization("https://push.example.net/send/abc", "mailto:ops@example.org", 1000)
    token, public = header.removeprefix("vapid t=").split(", k=")
    assert public == key.public
    head, claims, signature = token.split(".")
    assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
    assert json.loads(unb64url(claims)) == {
        "aud": "https://push.example.net",
        "exp": 1000 + 12 * 3600,
        "sub": "mailto:ops@example.org",
    }
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public))
    verifier.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
