"""Safety numbers and a QR payload for verifying a contact in person.

Signal's numeric fingerprint: for each side, SHA-512 iterated 5,200 times
over the identity key and the user's stable id, cut into six 5-digit groups;
the two 30-digit halves are sorted so both sides see the same 60 digits.
Only identity keys go in, so adding or removing a device does not change it.
"""

from __future__ import annotations

import hashlib
import hmac

import msgspec

from protocol.e2e import QR_VERSION, SAFETY_ITERATIONS, SAFETY_VERSION, QrPayload

__all__ = ["fingerprint", "qr_payload", "safety_number", "verify_qr"]


def fingerprint(user: int, identity_pk: bytes) -> bytes:
    """32 bytes that stand for one side's identity."""
    digest = hashlib.sha512(SAFETY_VERSION + identity_pk + str(user).encode()).digest()
    for _ in range(SAFETY_ITERATIONS):
        digest = hashlib.sha512(digest + identity_pk).digest()
    return digest[:32]


def _digits(fp: bytes) -> str:
    return "".join(f"{int.from_bytes(fp[i : i + 5], 'big') % 100_000:05d}" for i in range(0, 30, 5))


def safety_number(user_a: int, key_a: bytes, user_b: int, key_b: bytes) -> str:
    """60 digits, the same on both sides; show them as twelve groups of five."""
    halves = sorted((_digits(fingerprint(user_a, key_a)), _digits(fingerprint(user_b, key_b))))
    return "".join(halves)


def qr_payload(me: int, my_key: bytes, them: int, their_key: bytes) -> bytes:
    """What one side shows; the other scans it with ``verify_qr``."""
    shown = QrPayload(QR_VERSION, me, fingerprint(me, my_key), them, fingerprint(them, their_key))
    return msgspec.msgpack.encode(shown)


def verify_qr(payload: bytes, me: int, my_key: bytes, them: int, their_key: bytes) -> bool:
    """True when the scanned code shows the same two identities as ours."""
    try:
        shown = msgspec.msgpack.decode(payload, type=QrPayload)
    except (msgspec.DecodeError, ValueError, TypeError):
        return False
    if shown.v != QR_VERSION or (shown.me, shown.them) != (them, me):
        return False
    return hmac.compare_digest(
        shown.my_fingerprint, fingerprint(them, their_key)
    ) and hmac.compare_digest(shown.their_fingerprint, fingerprint(me, my_key))
