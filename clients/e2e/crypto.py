"""The libsodium primitives the scheme uses, each behind one small function
that raises a typed error instead of returning ``False`` or a library error.

Only primitives libsodium.js exposes too (the browser must agree byte for
byte): Ed25519, sealed boxes, XChaCha20-Poly1305, BLAKE2b, secretstream.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from nacl import bindings
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey
from nacl.utils import random

from clients.errors import BadSignature, DecryptionFailed
from protocol.e2e import (
    COMMIT_CONTEXT,
    MESSAGE_KEY_CONTEXT,
    PAD_BLOCK,
    SENDER_KEY_COMMIT_CONTEXT,
    Recipient,
)

__all__ = [
    "PAD_BLOCK",
    "aead_decrypt",
    "aead_encrypt",
    "commitment",
    "digest",
    "keyed_hash",
    "message_key",
    "pad",
    "random",
    "seal",
    "seal_to_each",
    "sender_key_commitment",
    "sign",
    "unpad",
    "unseal",
    "verify",
]


def sign(key: SigningKey, context: bytes, data: bytes) -> bytes:
    return key.sign(context + data).signature


def verify(public_key: bytes, context: bytes, data: bytes, signature: bytes) -> None:
    try:
        VerifyKey(public_key).verify(context + data, signature)
    except (BadSignatureError, ValueError, TypeError):
        raise BadSignature("the signature does not verify") from None


def seal(content_key: bytes, enc_pk: bytes) -> bytes:
    """Wrap a content key for one device (anonymous sender: the envelope
    signature is what authenticates)."""
    return SealedBox(PublicKey(enc_pk)).encrypt(content_key)


def seal_to_each(key: bytes, devices: Mapping[int, bytes]) -> list[Recipient]:
    """``key`` sealed to each of ``devices`` (device -> X25519 public key), by
    ascending device: a version 1 header's recipients, a distribution's."""
    return [Recipient(device, seal(key, pk)) for device, pk in sorted(devices.items())]


def unseal(wrapped: bytes, enc_sk: PrivateKey) -> bytes:
    try:
        return SealedBox(enc_sk).decrypt(wrapped)
    except (CryptoError, ValueError, TypeError):
        raise DecryptionFailed("the wrapped key does not open with this device's key") from None


def keyed_hash(key: bytes, context: bytes, data: bytes) -> bytes:
    """BLAKE2b-256 of ``context || data`` keyed with ``key`` (libsodium's
    crypto_generichash with a key)."""
    return hashlib.blake2b(context + data, key=key, digest_size=32).digest()


def commitment(content_key: bytes, msg_id: bytes) -> bytes:
    """Commits the envelope to one content key (Poly1305 alone does not)."""
    return keyed_hash(content_key, COMMIT_CONTEXT, msg_id)


def message_key(sender_key: bytes, msg_id: bytes) -> bytes:
    """A version 2 envelope's content key, derived from the sender key."""
    return keyed_hash(sender_key, MESSAGE_KEY_CONTEXT, msg_id)


def sender_key_commitment(sender_key: bytes, key_id: bytes) -> bytes:
    """Commits a distributed sender key: every reader holds this very key."""
    return keyed_hash(sender_key, SENDER_KEY_COMMIT_CONTEXT, key_id)


def digest(data: bytes) -> bytes:
    """BLAKE2b-256, the same as libsodium's crypto_generichash."""
    return hashlib.blake2b(data, digest_size=32).digest()


def aead_encrypt(key: bytes, nonce: bytes, plaintext: bytes, ad: bytes) -> bytes:
    return bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, nonce, key)


def aead_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, ad: bytes) -> bytes:
    try:
        return bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, key)
    except (CryptoError, ValueError, TypeError):
        raise DecryptionFailed("the body does not decrypt") from None


def pad(data: bytes) -> bytes:
    return bindings.sodium_pad(data, PAD_BLOCK)


def unpad(data: bytes) -> bytes:
    try:
        return bindings.sodium_unpad(data, PAD_BLOCK)
    except (CryptoError, ValueError):
        raise DecryptionFailed("bad padding") from None
