"""TOTP (RFC 6238) against the RFC's own test values, the window of
accepted steps, no replay, and recovery codes."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from server.totp import (
    RECOVERY_CODES,
    STEP_MS,
    code_at,
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    recovery_hash,
)

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()  # RFC 6238 appendix B, SHA-1


@pytest.mark.parametrize(
    ("seconds", "eight_digits"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_codes_are_the_rfcs_last_six_digits(seconds: int, eight_digits: str) -> None:
    assert code_at(RFC_SECRET, seconds // 30) == eight_digits[-6:]


def test_a_code_is_accepted_one_step_either_side_and_never_twice() -> None:
    now = 1_700_000_000_000
    step = now // STEP_MS
    for drift in (-1, 0, 1):
        assert matching_step(RFC_SECRET, code_at(RFC_SECRET, step + drift), now, 0) == step + drift
    for far in (-2, 2):
        assert matching_step(RFC_SECRET, code_at(RFC_SECRET, step + far), now, 0) is None
    current = code_at(RFC_SECRET, step)
    assert matching_step(RFC_SECRET, current, now, after_step=step) is None  # spent
    assert matching_step(RFC_SECRET, current[:3] + " " + current[3:], now, 0) == step


def test_a_new_secret_is_160_random_bits_in_base32() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(len(base64.b32decode(secret)) == 20 for secret in secrets)


def test_the_uri_names_the_issuer_and_account_as_apps_read_it() -> None:
    uri = urlsplit(provisioning_uri("JBSWY3DPEHPK3PXP", "dr.marchand@cabinet", "carehub"))
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/carehub:dr.marchand@cabinet")
    query = parse_qs(uri.query)
    assert query == {
        "secret": ["JBSWY3DPEHPK3PXP"],
        "issuer": ["carehub"],
        "digits": ["6"],
        "period": ["30"],
    }


def test_recovery_codes_are_distinct_and_read_however_typed() -> None:
    codes = new_recovery_codes()
    assert len(set(codes)) == len(codes) == RECOVERY_CODES
    assert all(len(code) == 11 and code[5] == "-" for code in codes)
    code = codes[0]
    assert (
        recovery_hash(code.upper()) == recovery_hash(code.replace("-", " ")) == recovery_hash(code)
    )
    assert recovery_hash(code) != recovery_hash(codes[1])
