"""The shapes of end-to-end encryption: device lists, envelopes, documents.

Structure only, no cryptography: the server reads these to route and to
check coverage; the SDK (``clients.e2e``) signs, seals and verifies them.
Signed things travel as the exact bytes that were signed (``SignedDeviceList.body``,
``Envelope.header``), so nobody ever re-encodes before verifying.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from protocol.errors import DecodeError
from protocol.model import Id, Natural

__all__ = [
    "AD_CONTEXT",
    "COMMIT_CONTEXT",
    "DEVICE_LIST_CONTEXT",
    "DOCUMENT_CHUNK",
    "DOCUMENT_CONTEXT",
    "ENVELOPE_VERSION",
    "GROUP_ENVELOPE_VERSION",
    "MAX_SENDER_KEY_DEVICES",
    "MESSAGE_KEY_CONTEXT",
    "PAD_BLOCK",
    "QR_VERSION",
    "SAFETY_ITERATIONS",
    "SAFETY_VERSION",
    "SENDER_KEYS_ABOVE",
    "SENDER_KEY_COMMIT_CONTEXT",
    "SENDER_KEY_CONTEXT",
    "SENDER_KEY_VERSION",
    "SIGNATURE_CONTEXT",
    "AnyHeader",
    "Body",
    "Delegate",
    "DeviceEntry",
    "DeviceList",
    "DeviceRequest",
    "DocumentRef",
    "Envelope",
    "GroupHeader",
    "Header",
    "QrPayload",
    "Recipient",
    "Scope",
    "SenderKey",
    "SignedDeviceList",
    "SignedSenderKey",
    "check_recipients",
    "decode_device_list",
    "decode_envelope",
    "decode_header",
    "decode_sender_key",
    "parse_scope",
]

ENVELOPE_VERSION = 1  # the content key sealed to every device in the header
GROUP_ENVELOPE_VERSION = 2  # the content key derived from the sender's distributed key
SENDER_KEY_VERSION = 1
# Domain separation: each signature, AD and MAC input starts with its own label.
DEVICE_LIST_CONTEXT = b"carehub-devices1"
SIGNATURE_CONTEXT = b"carehub-sig1"
AD_CONTEXT = b"carehub-env1"
COMMIT_CONTEXT = b"carehub-commit1"
SENDER_KEY_CONTEXT = b"carehub-skey1"  # a device's signature over its SenderKey
SENDER_KEY_COMMIT_CONTEXT = b"carehub-skcommit1"
MESSAGE_KEY_CONTEXT = b"carehub-mkey1"  # a message's content key, derived from a sender key
# Threads whose readers have more devices than this get sender keys (version 2
# envelopes) from the SDKs: below it, a key sealed per device costs less than a
# distribution and keeps each message self-contained.
SENDER_KEYS_ABOVE = 16
MAX_SENDER_KEY_DEVICES = 1024  # devices one distribution may reach: about 88 KB, in one frame
DOCUMENT_CONTEXT = b"carehub-doc1"  # the associated data of every document chunk
PAD_BLOCK = 256  # bodies are padded (libsodium's sodium_pad) to a multiple of this
DOCUMENT_CHUNK = 64 * 1024  # plaintext bytes per secretstream chunk (the last may be shorter)
SAFETY_ITERATIONS = 5200  # SHA-512 rounds of a safety-number fingerprint
SAFETY_VERSION = b"\x00\x00"  # the fingerprint's first input bytes
QR_VERSION = 1
Key32 = Annotated[bytes, Meta(min_length=32, max_length=32)]
Sig = Annotated[bytes, Meta(min_length=64, max_length=64)]
MsgId = Annotated[bytes, Meta(min_length=16, max_length=16)]
KeyId = MsgId  # a sender key's random id
Nonce = Annotated[bytes, Meta(min_length=24, max_length=24)]
# crypto_box_seal of a 32-byte key: 32 (ephemeral pk) + 16 (MAC) + 32.
WrappedKey = Annotated[bytes, Meta(min_length=80, max_length=80)]
Short = Annotated[str, Meta(max_length=32, pattern=r"^[a-z0-9_.]*$")]
UserId = Id


class DeviceEntry(Struct, array_like=True):
    """A device the identity key vouches for, until ``expires`` (ms)."""

    device: UserId
    sign_pk: Key32  # Ed25519: the device signs envelopes with it
    enc_pk: Key32  # X25519: content keys are sealed to it
    expires: Natural


class DeviceRequest(Struct, array_like=True):
    """What a new device shows (as a QR code) to a device that can approve it."""

    user: UserId
    device: UserId
    sign_pk: Key32
    enc_pk: Key32


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
    expires: Natural | None = None

    def allows(self, scope: Scope, now: int) -> bool:
        """Whether this delegation covers ``scope`` at ``now``. Words are
        matched as written: the server refuses lists it cannot parse."""
        return (self.expires is None or self.expires > now) and scope in self.scope.split(".")


class DeviceList(Struct, array_like=True):
    """A user's devices and delegates, signed by the user's identity key.
    ``version`` only increases: clients refuse a list older than one seen."""

    user: UserId
    version: Id
    time: Natural
    identity_pk: Key32
    devices: Annotated[list[DeviceEntry], Meta(max_length=64)]
    delegates: Annotated[list[Delegate], Meta(max_length=64)] = []


class SignedDeviceList(Struct, array_like=True):
    body: bytes  # a msgpack DeviceList, exactly as signed
    sig: Sig  # Ed25519 by identity_pk over "carehub-devices1" || body


class Recipient(Struct, array_like=True):
    """The content key sealed to one device (``crypto_box_seal``)."""

    device: UserId
    key: WrappedKey


class Header(Struct, array_like=True):
    """What the server may read: routing, dedupe, triage. Signed with the body."""

    v: Natural
    thread: UserId
    msg_id: MsgId
    sender_user: UserId
    sender_device: UserId
    ts: Natural
    kind: Short
    reason: Short | None
    # By ascending device id, each device once (a list, not a map: integer map
    # keys do not survive JavaScript's MessagePack defaults).
    recipients: Annotated[list[Recipient], Meta(min_length=1, max_length=1024)]
    commit: Key32  # keyed BLAKE2b of "carehub-commit1" || msg_id under the content key
    nonce: Nonce
    acting_for: UserId | None = None  # an assistant answering for this practitioner


class GroupHeader(Struct, array_like=True, forbid_unknown_fields=True):
    """A version 2 header: the same fields as ``Header`` but element 8, which
    names the sender key the content key derives from instead of sealing it
    to every device. Its size does not grow with the thread. Nothing may
    follow its last element (the TypeScript SDK refuses it too)."""

    v: Natural
    thread: UserId
    msg_id: MsgId
    sender_user: UserId
    sender_device: UserId
    ts: Natural
    kind: Short
    reason: Short | None
    sender_key: KeyId  # the SenderKey.key_id of this sender device in this thread
    commit: Key32  # as in Header, under the derived content key
    nonce: Nonce
    acting_for: UserId | None = None


AnyHeader = Header | GroupHeader


class SenderKey(Struct, array_like=True, forbid_unknown_fields=True):
    """A sending device's key for one thread, sealed once to each reader
    device (``keys.distribute``) instead of once per message. The key itself
    travels sealed only; this names it and commits to it, so every reader
    provably holds the same key."""

    v: Natural  # SENDER_KEY_VERSION
    thread: UserId
    sender_user: UserId
    sender_device: UserId
    key_id: KeyId
    commit: Key32  # keyed BLAKE2b of "carehub-skcommit1" || key_id under the key
    created: Natural  # ms, the sender's clock


class SignedSenderKey(Struct, array_like=True, forbid_unknown_fields=True):
    key: bytes  # a msgpack SenderKey, exactly as signed
    sig: Sig  # sender device: "carehub-skey1" || key


class Envelope(Struct, array_like=True):
    header: bytes  # a msgpack Header or GroupHeader, exactly as signed and used as AD
    body: bytes  # XChaCha20-Poly1305 of a padded msgpack Body
    sig: Sig  # sender device: "carehub-sig1" || header || BLAKE2b(body)


class DocumentRef(Struct, array_like=True):
    """An encrypted document, described inside the encrypted body only."""

    file: str  # the server's id of the uploaded ciphertext (32 hex digits)
    key: Key32  # the secretstream key
    size: Natural  # plaintext bytes
    mime: str
    name: str
    hash: Key32  # BLAKE2b-256 of the ciphertext, checked before decrypting


class Body(Struct, omit_defaults=True):
    """The plaintext of a message, never seen by the server. A map; a field
    at its default (an empty string, no documents) is left out, and a reader
    takes a missing one as that default. ``subject`` is a string, never nil."""

    text: str = ""
    subject: str = ""
    documents: list[DocumentRef] = []


class QrPayload(Struct, array_like=True):
    """What one side shows to be scanned when verifying in person."""

    v: Natural  # QR_VERSION
    me: UserId
    my_fingerprint: Key32
    them: UserId
    their_fingerprint: Key32


_list = msgspec.msgpack.Decoder(SignedDeviceList)
_device_list = msgspec.msgpack.Decoder(DeviceList)
_envelope = msgspec.msgpack.Decoder(Envelope)
_header = msgspec.msgpack.Decoder(Header)
_group_header = msgspec.msgpack.Decoder(GroupHeader)
_signed_sender_key = msgspec.msgpack.Decoder(SignedSenderKey)
_sender_key = msgspec.msgpack.Decoder(SenderKey)


class _Versioned(Struct, array_like=True):
    """A header's first element: which layout the rest has."""

    v: int


_version = msgspec.msgpack.Decoder(_Versioned)


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


def decode_envelope(data: bytes) -> tuple[Envelope, AnyHeader]:
    envelope = _decode(_envelope, data, "envelope")
    assert isinstance(envelope, Envelope)
    return envelope, decode_header(envelope.header)


def decode_header(data: bytes) -> AnyHeader:
    version = _decode(_version, data, "envelope header")
    assert isinstance(version, _Versioned)
    if version.v == GROUP_ENVELOPE_VERSION:
        group = _decode(_group_header, data, "envelope header")
        assert isinstance(group, GroupHeader)
        return group
    if version.v != ENVELOPE_VERSION:
        known = (ENVELOPE_VERSION, GROUP_ENVELOPE_VERSION)
        raise DecodeError(f"envelope version {version.v} is none of {known}")
    header = _decode(_header, data, "envelope header")
    assert isinstance(header, Header)
    check_recipients(header.recipients, "envelope recipients")
    return header


def check_recipients(recipients: Sequence[Recipient], what: str) -> None:
    """``DecodeError`` unless each device is named once, in ascending order
    (an envelope's recipients, a sender key's distribution)."""
    devices = [r.device for r in recipients]
    if any(a >= b for a, b in itertools.pairwise(devices)):
        raise DecodeError(f"{what}: devices must be in ascending order, each once")


def decode_sender_key(data: bytes) -> tuple[SignedSenderKey, SenderKey]:
    signed = _decode(_signed_sender_key, data, "sender key")
    assert isinstance(signed, SignedSenderKey)
    key = _decode(_sender_key, signed.key, "sender key body")
    assert isinstance(key, SenderKey)
    if key.v != SENDER_KEY_VERSION:
        raise DecodeError(f"sender key version {key.v} is not {SENDER_KEY_VERSION}")
    return signed, key
