"""The compact JSON Web Tokens the push services ask for (RFC 7515, 7519):
ES256 for VAPID (RFC 8292) and APNs, RS256 for Google's OAuth assertion
(RFC 7523). Signing only: carehub never reads one."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

__all__ = ["b64url", "es256", "rs256"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signing_input(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return b64url(json.dumps(data, separators=(",", ":")).encode())

    return f"{part(header)}.{part(claims)}"


def es256(key: ec.EllipticCurvePrivateKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWT signed with a P-256 key; the signature is r || s (RFC 7518 §3.4)."""
    signing_input = _signing_input({"alg": "ES256", **header}, claims)
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def rs256(key: rsa.RSAPrivateKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A JWT signed with RSASSA-PKCS1-v1_5 and SHA-256 (RFC 7518 §3.3)."""
    signing_input = _signing_input({"alg": "RS256", **header}, claims)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"
