"""Web Push, the server's half: the VAPID key that identifies this deployment
to push services (RFC 8292), and a payload encrypted for one subscription
(RFC 8291, ``aes128gcm`` content coding of RFC 8188). Pure: no I/O.

A push carries no words of a message, no name, no reason: the payload is
only what a service worker needs to show "Nouveau message" and open the
thread (``docs/push.md``). Even so it is encrypted end to end to the browser,
as the RFCs require: the push service reads nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.jwt import b64url, es256

__all__ = ["PushError", "VapidKey", "b64url", "encrypt", "unb64url"]

RECORD_SIZE = 4096  # one record holds any payload of ours
VAPID_LIFETIME_S = 12 * 3600  # RFC 8292: at most 24 hours
_CURVE = ec.SECP256R1()


class PushError(ValueError):
    """A subscription's keys are not usable (not a P-256 point, wrong length)."""


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    """The uncompressed point (65 bytes), as browsers and push services write it."""
    point = serialization.PublicFormat.UncompressedPoint
    return key.public_bytes(serialization.Encoding.X962, point)


@dataclass(frozen=True)
class VapidKey:
    """This deployment's application server key (ECDSA P-256)."""

    private: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> VapidKey:
        return cls(ec.generate_private_key(_CURVE))

    @classmethod
    def load_or_create(cls, path: Path) -> VapidKey:
        """The key kept in ``path`` (PEM), made and written there the first
        time: every node of a deployment must read the same file, or
        subscriptions made through one node are refused through another."""
        if path.exists():
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise PushError(f"{path} does not hold an EC private key")
            return cls(loaded)
        key = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(pem)
        return key

    @property
    def public(self) -> str:
        """What a browser passes as ``applicationServerKey`` (base64url)."""
        return b64url(_public_bytes(self.private.public_key()))

    def authorization(self, endpoint: str, subject: str, now: float | None = None) -> str:
        """The ``Authorization`` header for a push to ``endpoint``: a JWT
        (ES256) for the endpoint's origin, and this key (RFC 8292 §3)."""
        scheme, _, rest = endpoint.partition("://")
        origin = f"{scheme}://{rest.split('/', 1)[0]}"
        expires = int((time.time() if now is None else now) + VAPID_LIFETIME_S)
        token = es256(self.private, {"typ": "JWT"}, {"aud": origin, "exp": expires, "sub": subject})
        return f"vapid t={token}, k={self.public}"


def _hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand for one block (``length`` ≤ 32), as RFC 8291 uses it."""
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]


def encrypt(
    payload: bytes,
    p256dh: str,
    auth: str,
    *,
    salt: bytes | None = None,
    sender: ec.EllipticCurvePrivateKey | None = None,
) -> bytes:
    """``payload`` encrypted for the subscription whose keys are ``p256dh``
    and ``auth`` (base64url, as PushSubscription.toJSON gives them): the
    body of the push request, with ``Content-Encoding: aes128gcm``. A fresh
    salt and key pair each time, unless given (known-answer tests)."""
    try:
        receiver_bytes = unb64url(p256dh)
        receiver = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, receiver_bytes)
        auth_secret = unb64url(auth)
    except (ValueError, TypeError) as exc:
        raise PushError(f"unusable subscription keys: {exc}") from None
    if len(auth_secret) != 16:
        raise PushError("the auth secret is not 16 bytes")
    if len(payload) > RECORD_SIZE - 17 - 86:
        raise PushError("payload too large for one record")
    sender = ec.generate_private_key(_CURVE) if sender is None else sender
    sender_bytes = _public_bytes(sender.public_key())
    shared = sender.exchange(ec.ECDH(), receiver)
    prk_key = hmac.new(auth_secret, shared, hashlib.sha256).digest()
    ikm = _hkdf_expand(prk_key, b"WebPush: info\x00" + receiver_bytes + sender_bytes, 32)
    salt = os.urandom(16) if salt is None else salt
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    key = _hkdf_expand(prk, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf_expand(prk, b"Content-Encoding: nonce\x00", 12)
    record = AESGCM(key).encrypt(nonce, payload + b"\x02", None)  # 0x02: the last record
    header = salt + struct.pack("!IB", RECORD_SIZE, len(sender_bytes)) + sender_bytes
    return header + record
