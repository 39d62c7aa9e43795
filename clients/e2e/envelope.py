"""Sealing and opening a message envelope.

One content key per message encrypts the padded body once
(XChaCha20-Poly1305, the header as associated data). In a version 1
envelope the key is fresh and sealed to every recipient device in the
header; in a version 2 one it is derived from the sender key the header
names (``clients.e2e.sender_keys``). The header commits to the key; the
sender device signs the header and a hash of the body. ``open_envelope``
runs the checks in a fixed order and returns plaintext only when all of
them pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from clients.e2e.crypto import (
    aead_decrypt,
    aead_encrypt,
    commitment,
    digest,
    message_key,
    pad,
    random,
    seal_to_each,
    sign,
    unpad,
    unseal,
    verify,
)
from clients.e2e.devices import DeviceKeys, Trust
from clients.e2e.sender_keys import OwnSenderKey
from clients.errors import (
    BadCommitment,
    BadSignature,
    DecryptionFailed,
    NotDelegated,
    NotForThisDevice,
    Replay,
    WrongThread,
)
from protocol.e2e import (
    AD_CONTEXT,
    ENVELOPE_VERSION,
    GROUP_ENVELOPE_VERSION,
    SIGNATURE_CONTEXT,
    AnyHeader,
    Body,
    Envelope,
    GroupHeader,
    Header,
    Scope,
    decode_envelope,
)
from protocol.errors import DecodeError

__all__ = ["Opened", "Outgoing", "Sealed", "open_envelope", "seal_envelope"]

_body = msgspec.msgpack.Decoder(Body)


@dataclass(frozen=True)
class Outgoing:
    """What the sender decides; the randomness can be fixed for test vectors."""

    thread: int
    sender_user: int
    body: Body
    recipients: Mapping[int, bytes]  # device -> X25519 public key (version 1 only)
    kind: str = "text"
    reason: str | None = None
    acting_for: int | None = None
    ts: int = 0
    msg_id: bytes | None = None
    content_key: bytes | None = None
    nonce: bytes | None = None


@dataclass(frozen=True)
class Sealed:
    data: bytes
    msg_id: bytes


@dataclass(frozen=True)
class Opened:
    header: AnyHeader
    body: Body


def seal_envelope(
    message: Outgoing, sender: DeviceKeys, sender_key: OwnSenderKey | None = None
) -> Sealed:
    """A version 1 envelope, or with ``sender_key`` a version 2 one."""
    msg_id = message.msg_id or random(16)
    if sender_key is None:
        content_key = message.content_key or random(32)
    else:
        content_key = message_key(sender_key.key, msg_id)
    common: dict[str, Any] = {
        "thread": message.thread,
        "msg_id": msg_id,
        "sender_user": message.sender_user,
        "sender_device": sender.device,
        "ts": message.ts,
        "kind": message.kind,
        "reason": message.reason,
        "commit": commitment(content_key, msg_id),
        "nonce": message.nonce or random(24),
        "acting_for": message.acting_for,
    }
    header: AnyHeader
    if sender_key is None:
        recipients = seal_to_each(content_key, message.recipients)
        header = Header(v=ENVELOPE_VERSION, recipients=recipients, **common)
    else:
        header = GroupHeader(v=GROUP_ENVELOPE_VERSION, sender_key=sender_key.key_id, **common)
    header_bytes = msgspec.msgpack.encode(header)
    body = aead_encrypt(
        content_key,
        header.nonce,
        pad(msgspec.msgpack.encode(message.body)),
        AD_CONTEXT + header_bytes,
    )
    signature = sign(sender.sign, SIGNATURE_CONTEXT, header_bytes + digest(body))
    return Sealed(msgspec.msgpack.encode(Envelope(header_bytes, body, signature)), msg_id)


def open_envelope(
    data: bytes,
    *,
    me: DeviceKeys,
    trust: Trust,
    thread: int,
    sender_user: int,
    sender_device: int,
    now: int,
    first_time: Callable[[bytes], bool],
    sender_key: bytes | None = None,
) -> Opened:
    """Check, in order: the sender device is in the sender's signed list;
    the signature; the thread; the message id is new (``first_time``); the
    key unwraps; the commitment; the body decrypts. ``thread``, ``sender_user``
    and ``sender_device`` are what the server says; the header must agree.
    ``sender_key``: for a version 2 envelope, the verified sender key it
    names (``open_sender_key``), if this device has it."""
    try:
        envelope, header = decode_envelope(data)
    except DecodeError as exc:
        raise DecryptionFailed(f"not an envelope: {exc}") from None
    if (header.sender_user, header.sender_device) != (sender_user, sender_device):
        raise BadSignature("the header names another sender than the one who sent it")
    device = trust.device(header.sender_user, header.sender_device, now)
    verify(device.sign_pk, SIGNATURE_CONTEXT, envelope.header + digest(envelope.body), envelope.sig)
    if header.acting_for is not None:
        delegates = trust.current(header.acting_for).delegates
        if not any(d.user == header.sender_user and d.allows(Scope.REPLY, now) for d in delegates):
            raise NotDelegated(
                f"user {header.sender_user} may not act for user {header.acting_for}"
            )
    if header.thread != thread:
        raise WrongThread(f"this envelope was sealed for thread {header.thread}, not {thread}")
    if not first_time(header.msg_id):
        raise Replay(f"message id {header.msg_id.hex()} was already used")
    content_key = _content_key(header, me, sender_key)
    if commitment(content_key, header.msg_id) != header.commit:
        raise BadCommitment("the content key is not the one the header commits to")
    plaintext = unpad(
        aead_decrypt(content_key, header.nonce, envelope.body, AD_CONTEXT + envelope.header)
    )
    try:
        return Opened(header, _body.decode(plaintext))
    except msgspec.DecodeError as exc:
        raise DecryptionFailed(f"unreadable body: {exc}") from None


def _content_key(header: AnyHeader, me: DeviceKeys, sender_key: bytes | None) -> bytes:
    if isinstance(header, GroupHeader):
        if sender_key is None:
            raise NotForThisDevice(f"no sender key was sealed for device {me.device}")
        return message_key(sender_key, header.msg_id)
    wrapped = next((r.key for r in header.recipients if r.device == me.device), None)
    if wrapped is None:
        raise NotForThisDevice(f"no key was sealed for device {me.device}")
    return unseal(wrapped, me.enc)
