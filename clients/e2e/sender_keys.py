"""Sender keys: one key per sending device and thread, sealed once to each
reading device, from which every message's content key is derived.

A thread with many devices would otherwise carry a sealed key per device in
every message (80 bytes each). The sender instead distributes a random
32-byte key once (``keys.distribute``): signed with its device key, committed
to (so every reader provably holds the same key), and sealed to each device
the server checks the thread has. Each message's content key is
``BLAKE2b(key = sender key, "carehub-mkey1" || msg_id)``. The server refuses a
message whose key no longer reaches exactly the thread's devices, so a key
rotates on every membership or device change: a removed device never gets
what is sent after it left, a new one never reads what came before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from clients.e2e.crypto import random, seal_to_each, sender_key_commitment, sign, unseal, verify
from clients.e2e.devices import DeviceKeys, Trust
from clients.errors import BadCommitment, BadSignature, WrongThread
from protocol.e2e import (
    SENDER_KEY_CONTEXT,
    SENDER_KEY_VERSION,
    SenderKey,
    SignedSenderKey,
    decode_sender_key,
)
from protocol.errors import DecodeError
from protocol.methods import KeysDistributeParams

__all__ = ["OwnSenderKey", "new_sender_key", "open_sender_key"]


@dataclass(frozen=True)
class OwnSenderKey:
    """This device's current key for one thread, and the devices it was
    sealed to, with the encryption key of each (a device that makes a new key
    under the same id needs a new sender key too)."""

    key_id: bytes
    key: bytes
    devices: Mapping[int, bytes]


def new_sender_key(
    thread: int,
    sender_user: int,
    sender: DeviceKeys,
    devices: Mapping[int, bytes],
    now: int,
    *,
    key: bytes | None = None,
    key_id: bytes | None = None,
) -> tuple[OwnSenderKey, KeysDistributeParams]:
    """A fresh key for ``thread`` and the ``keys.distribute`` call that seals
    it to ``devices`` (device -> X25519 public key). ``key`` and ``key_id``
    are random unless fixed (test vectors)."""
    key = key or random(32)
    key_id = key_id or random(16)
    body = msgspec.msgpack.encode(
        SenderKey(
            SENDER_KEY_VERSION,
            thread,
            sender_user,
            sender.device,
            key_id,
            sender_key_commitment(key, key_id),
            now,
        )
    )
    signed = SignedSenderKey(body, sign(sender.sign, SENDER_KEY_CONTEXT, body))
    own = OwnSenderKey(key_id, key, dict(devices))
    params = KeysDistributeParams(
        thread, msgspec.msgpack.encode(signed), seal_to_each(key, devices)
    )
    return own, params


def open_sender_key(
    signed: bytes,
    wrapped: bytes,
    *,
    me: DeviceKeys,
    trust: Trust,
    thread: int,
    sender_user: int,
    sender_device: int,
    key_id: bytes,
    now: int,
) -> bytes:
    """The sender key a version 2 header names, once it is the one asked
    for, signed by a device in the sender's list, and the key it commits to."""
    try:
        outer, body = decode_sender_key(signed)
    except DecodeError as exc:
        raise BadSignature(f"not a sender key: {exc}") from None
    if (body.sender_user, body.sender_device, body.key_id) != (sender_user, sender_device, key_id):
        raise BadSignature("the sender key is not the one the message names")
    device = trust.device(sender_user, sender_device, now)
    verify(device.sign_pk, SENDER_KEY_CONTEXT, outer.key, outer.sig)
    if body.thread != thread:
        raise WrongThread(f"this sender key is for thread {body.thread}, not {thread}")
    key = unseal(wrapped, me.enc)
    if sender_key_commitment(key, key_id) != body.commit:
        raise BadCommitment("the sender key is not the one it commits to")
    return key
