"""The shapes of end-to-end encryption: device lists, envelopes, documents.

Structure only, no cryptography: the server reads these to route and to
check coverage; the SDK (``clients.e2e``) signs, seals and verifies them.
Signed things travel as the exact bytes that were signed (``SignedDeviceList.body``,
``Envelope.header``), so nobody ever re-encodes before verifying.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from protocol.errors import DecodeError

__all__ = [
    "AD_CONTEXT",
    "COMMIT_CONTEXT",
    "DEVICE_LIST_CONTEXT",
    "ENVELOPE_VERSION",
    "SIGNATURE_CONTEXT",
    "Body",
    "Delegate",
    "DeviceEntry",
    "DeviceList",
    "DocumentRef",
    "Envelope",
    "Header",
    "Scope",
    "SignedDeviceList",
    "decode_device_list",
    "decode_envelope",
    "decode_header",
    "parse_scope",
]

ENVELOPE_VERSION = 1
# Domain separation: each signature, AD and MAC input starts with its own label.
DEVICE_LIST_CONTEXT = b"carehub-devices1"
SIGNATURE_CONTEXT = b"carehub-sig1"
AD_CONTEXT = b"carehub-env1"
COMMIT_CONTEXT = b"carehub-commit1"
Key32 = Annotated[bytes, Meta(min_length=32, max_length=32)]
Sig = Annotated[bytes, Meta(min_length=64, max_length=64)]
MsgId = Annotated[bytes, Meta(min_length=16, max_length=16)]
Nonce = Annotated[bytes, Meta(min_length=24, max_length=24)]
# crypto_box_seal of a 32-byte key: 32 (ephemeral pk) + 16 (MAC) + 32.
WrappedKey = Annotated[bytes, Meta(min_length=80, max_length=80)]
Short = Annotated[str, Meta(max_length=32, pattern=r"^[a-z0-9_.]*$")]
UserId = Annotated[int, Meta(ge=1)]


class DeviceEntry(Struct, array_like=True):
    """A device the identity key vouches for, until ``expires`` (ms)."""

    device: UserId
    sign_pk: Key32  # Ed25519: the device signs envelopes with it
    enc_pk: Key32  # X25519: content keys are sealed to it
    expires: int


class Scope(StrEnum):
    """What a delegation lets an assistant do for a practitioner.
    ``Delegate.scope`` holds them joined by dots, e.g. ``"read.reply"``."""

    READ = "read"  # their threads: events, history, documents, the audit trail
    REPLY = "reply"  # answer in those threads for them (needs read), close, reopen
    TEMPLATES = "templates"  # keep their templates
    AGENDA = "agenda"  # their agenda


def parse_scope(text: str) -> frozenset[Scope]:
    """The scopes in ``text``; ``ValueError`` for an unknown or missing one."""
    try:
        scopes = frozenset(Scope(word) for word in text.split("."))
    except ValueError:
        raise ValueError(f"unknown scope in {text!r}: use {[s.value for s in Scope]}") from None
    if Scope.REPLY in scopes and Scope.READ not in scopes:
        raise ValueError("answering needs reading: scope reply needs read")
    return scopes


class Delegate(Struct, array_like=True):
    """An assistant who may act for this user within ``scope`` until
    ``expires`` (ms; None: until revoked)."""

    user: UserId
    scope: Short
    expires: int | None = None

    def allows(self, scope: Scope, now: int) -> bool:
        """Whether this delegation covers ``scope`` at ``now``. Words are
        matched as written: the server refuses lists it cannot parse."""
        return (self.expires is None or self.expires > now) and scope in self.scope.split(".")


class DeviceList(Struct, array_like=True):
    """A user's devices and delegates, signed by the user's identity key.
    ``version`` only increases: clients refuse a list older than one seen."""

    user: UserId
    version: Annotated[int, Meta(ge=1)]
    time: int
    identity_pk: Key32
    devices: Annotated[list[DeviceEntry], Meta(max_length=64)]
    delegates: Annotated[list[Delegate], Meta(max_length=64)] = []


class SignedDeviceList(Struct, array_like=True):
    body: bytes  # a msgpack DeviceList, exactly as signed
    sig: Sig  # Ed25519 by identity_pk over "carehub-devices1" || body


class Header(Struct, array_like=True):
    """What the server may read: routing, dedupe, triage. Signed with the body."""

    v: int
    thread: UserId
    msg_id: MsgId
    sender_user: UserId
    sender_device: UserId
    ts: int
    kind: Short
    reason: Short | None
    recipients: Annotated[dict[int, WrappedKey], Meta(min_length=1, max_length=1024)]
    commit: Key32  # keyed BLAKE2b of "carehub-commit1" || msg_id under the content key
    nonce: Nonce
    acting_for: UserId | None = None  # an assistant answering for this practitioner


class Envelope(Struct, array_like=True):
    header: bytes  # a msgpack Header, exactly as signed and used as AD
    body: bytes  # XChaCha20-Poly1305 of a padded msgpack Body
    sig: Sig  # sender device: "carehub-sig1" || header || BLAKE2b(body)


class DocumentRef(Struct, array_like=True):
    """An encrypted document, described inside the encrypted body only."""

    file: str  # the server's id of the uploaded ciphertext
    key: Key32  # the secretstream key
    size: int  # plaintext bytes
    mime: str
    name: str
    hash: Key32  # BLAKE2b-256 of the ciphertext, checked before decrypting


class Body(Struct, omit_defaults=True):
    """The plaintext of a message, never seen by the server."""

    text: str = ""
    subject: str = ""
    documents: list[DocumentRef] = []


_list = msgspec.msgpack.Decoder(SignedDeviceList)
_device_list = msgspec.msgpack.Decoder(DeviceList)
_envelope = msgspec.msgpack.Decoder(Envelope)
_header = msgspec.msgpack.Decoder(Header)


def _decode(decoder: msgspec.msgpack.Decoder[Any], data: bytes, what: str) -> object:
    try:
        return decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"{what}: {exc}") from None


def decode_device_list(data: bytes) -> tuple[SignedDeviceList, DeviceList]:
    signed = _decode(_list, data, "device list")
    assert isinstance(signed, SignedDeviceList)
    body = _decode(_device_list, signed.body, "device list body")
    assert isinstance(body, DeviceList)
    return signed, body


def decode_envelope(data: bytes) -> tuple[Envelope, Header]:
    envelope = _decode(_envelope, data, "envelope")
    assert isinstance(envelope, Envelope)
    return envelope, decode_header(envelope.header)


def decode_header(data: bytes) -> Header:
    header = _decode(_header, data, "envelope header")
    assert isinstance(header, Header)
    if header.v != ENVELOPE_VERSION:
        raise DecodeError(f"envelope version {header.v} is not {ENVELOPE_VERSION}")
    return header
