"""What one device keeps: its keys, the user's identity key if this device
holds it, the trust it places in others, and the message ids it has opened.

Saved as one MessagePack file readable by its owner only. The file is not
encrypted with a passphrase: it relies on the device's own storage
protection, as the key stores of Signal Desktop and Element do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from clients.e2e.devices import DeviceKeys, Identity, Known, Trust
from protocol.e2e import decode_device_list

__all__ = ["Keystore"]


class _Saved(msgspec.Struct):
    user: int
    device: int
    sign_seed: bytes
    enc_key: bytes
    identity_seed: bytes | None
    pins: dict[int, bytes]
    lists: dict[int, bytes]
    held: dict[int, bytes]
    seen: dict[bytes, int]


@dataclass
class Keystore:
    user: int
    device: DeviceKeys
    identity: Identity | None = None
    trust: Trust = field(default_factory=Trust)
    seen: dict[bytes, int] = field(default_factory=dict)  # msg_id -> server message id

    @classmethod
    def create(cls, user: int, device: int, *, with_identity: bool) -> Keystore:
        """A new device; the first device of a user also makes the identity key."""
        identity = Identity.generate() if with_identity else None
        return cls(user, DeviceKeys.generate(device), identity)

    def first_time(self, msg_id: bytes, message_id: int) -> bool:
        """Record that ``msg_id`` arrived as server message ``message_id``;
        False if it arrived before as another message (a replay)."""
        return self.seen.setdefault(msg_id, message_id) == message_id

    def save(self, path: Path) -> None:
        saved = _Saved(
            user=self.user,
            device=self.device.device,
            sign_seed=bytes(self.device.sign),
            enc_key=bytes(self.device.enc),
            identity_seed=bytes(self.identity.key) if self.identity else None,
            pins=self.trust.pins,
            lists={u: k.signed for u, k in self.trust.lists.items()},
            held={u: k.signed for u, k in self.trust.held.items()},
            seen=self.seen,
        )
        temporary = path.with_name(path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(msgspec.msgpack.encode(saved))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> Keystore:
        saved = msgspec.msgpack.decode(path.read_bytes(), type=_Saved)

        def known(signed: bytes) -> Known:
            return Known(signed, decode_device_list(signed)[1])

        trust = Trust(
            pins=saved.pins,
            lists={u: known(s) for u, s in saved.lists.items()},
            held={u: known(s) for u, s in saved.held.items()},
        )
        device = DeviceKeys(saved.device, SigningKey(saved.sign_seed), PrivateKey(saved.enc_key))
        identity = Identity(SigningKey(saved.identity_seed)) if saved.identity_seed else None
        return cls(saved.user, device, identity, trust, saved.seen)
