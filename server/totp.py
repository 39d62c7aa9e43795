"""Time-based one-time passwords (RFC 6238) and recovery codes.

A code is HOTP (RFC 4226: HMAC-SHA1, dynamic truncation, six digits) over
the number of 30-second steps since the epoch, what every authenticator
app computes from the ``otpauth://`` URI it scanned. A code is accepted
for the step before and after the current one (a clock a little off, a
code typed as it turned over), and only for a step later than the last
one accepted: a code seen over a shoulder or replayed does not work twice.

Recovery codes stand in for a code when the phone is lost: ten, each
usable once, 50 random bits each, stored as SHA-256 (an attacker with the
database still needs the password, and each code guessed online is
throttled like a login).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

__all__ = [
    "RECOVERY_CODES",
    "STEP_MS",
    "code_at",
    "matching_step",
    "new_recovery_codes",
    "new_secret",
    "provisioning_uri",
    "recovery_hash",
]

STEP_MS = 30_000
DIGITS = 6
RECOVERY_CODES = 10
_DRIFT = (0, -1, 1)  # steps tried, the current one first
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def new_secret() -> str:
    """160 random bits (RFC 4226 §4's recommended length), base32 as apps want it."""
    return base64.b32encode(secrets.token_bytes(20)).decode()


def code_at(secret: str, step: int) -> str:
    """The six-digit code of ``step`` (RFC 4226 §5.3)."""
    digest = hmac.digest(base64.b32decode(secret), struct.pack(">Q", step), "sha1")
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def matching_step(secret: str, code: str, now_ms: int, after_step: int) -> int | None:
    """The step ``code`` is valid for, near ``now_ms`` and after ``after_step``;
    None if it is valid for none of them."""
    current = now_ms // STEP_MS
    typed = code.replace(" ", "")
    for step in (current + drift for drift in _DRIFT):
        if step > after_step and hmac.compare_digest(code_at(secret, step), typed):
            return step
    return None


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from a QR code."""
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode({"secret": secret, "issuer": issuer, "digits": DIGITS, "period": 30})
    return f"otpauth://totp/{label}?{query}"


def new_recovery_codes() -> list[str]:
    """``RECOVERY_CODES`` codes like ``k7wq2-m9xtb``: 10 characters of 31, ~50 bits."""
    return [_recovery_code() for _ in range(RECOVERY_CODES)]


def _recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def recovery_hash(code: str) -> bytes:
    """What is stored of a recovery code, however it was typed (case, dashes, spaces)."""
    normal = "".join(code.lower().split()).replace("-", "")
    return hashlib.sha256(normal.encode()).digest()
