"""Device keys, signed device lists, and the trust a device places in them.

A user's identity key (Ed25519) signs the list of their devices; each entry
carries the device's signing key and its encryption key (X25519, generated
separately, never converted from the signing key). One signature over the
whole list certifies every device in it and pins them to a version, so a
server can neither add a device nor bring back a removed one.

``Trust`` is what one device believes about everyone: identity keys pinned
on first use, and the newest verified list of each user. A different
identity key is held back until the app acknowledges it; an older list, or a
different list with the same version, is a rollback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from clients.e2e.crypto import sign, verify
from clients.errors import (
    BadSignature,
    IdentityChanged,
    Rollback,
    UnknownDevice,
    UntrustedDevices,
)
from protocol.e2e import (
    DEVICE_LIST_CONTEXT,
    Delegate,
    DeviceEntry,
    DeviceList,
    DeviceRequest,
    SignedDeviceList,
    decode_device_list,
)
from protocol.errors import DecodeError

__all__ = [
    "DEVICE_LIFETIME_MS",
    "DeviceKeys",
    "DeviceRequest",
    "Identity",
    "Known",
    "Trust",
    "entry_for",
]

DEVICE_LIFETIME_MS = 365 * 24 * 3600 * 1000


@dataclass
class DeviceKeys:
    """This device's own secrets."""

    device: int
    sign: SigningKey
    enc: PrivateKey

    @classmethod
    def generate(cls, device: int) -> DeviceKeys:
        return cls(device, SigningKey.generate(), PrivateKey.generate())

    def request(self, user: int) -> bytes:
        keys = (bytes(self.sign.verify_key), bytes(self.enc.public_key))
        return msgspec.msgpack.encode(DeviceRequest(user, self.device, *keys))


@dataclass
class Identity:
    """A user's identity key: whoever holds it decides the user's devices."""

    key: SigningKey

    @classmethod
    def generate(cls) -> Identity:
        return cls(SigningKey.generate())

    @property
    def public(self) -> bytes:
        return bytes(self.key.verify_key)

    def sign_list(
        self,
        user: int,
        version: int,
        time: int,
        devices: list[DeviceEntry],
        delegates: list[Delegate] | None = None,
    ) -> bytes:
        body = msgspec.msgpack.encode(
            DeviceList(user, version, time, self.public, devices, delegates or [])
        )
        return msgspec.msgpack.encode(
            SignedDeviceList(body, sign(self.key, DEVICE_LIST_CONTEXT, body))
        )


def entry_for(request: bytes, user: int, expires: int) -> DeviceEntry:
    """Read a new device's request; it must be for ``user``."""
    try:
        asked = msgspec.msgpack.decode(request, type=DeviceRequest)
    except msgspec.DecodeError as exc:
        raise UntrustedDevices(f"unreadable device request: {exc}") from None
    if asked.user != user:
        raise UntrustedDevices("this device request is for another user")
    return DeviceEntry(asked.device, asked.sign_pk, asked.enc_pk, expires)


@dataclass
class Known:
    signed: bytes
    parsed: DeviceList


@dataclass
class Trust:
    pins: dict[int, bytes] = field(default_factory=dict)  # user -> identity key
    lists: dict[int, Known] = field(default_factory=dict)  # user -> newest verified list
    held: dict[int, Known] = field(default_factory=dict)  # lists under a new identity

    def accept(self, user: int, signed: bytes) -> DeviceList:
        """Verify ``user``'s list and make it current; raise if it must not be."""
        parsed = _verified(user, signed)
        pinned = self.pins.get(user)
        if pinned is not None and pinned != parsed.identity_pk:
            self.held[user] = Known(signed, parsed)
            raise IdentityChanged(user)
        known = self.lists.get(user)
        if known is not None:
            if parsed.version < known.parsed.version:
                raise Rollback(
                    f"user {user}: list version {parsed.version} is older than "
                    f"{known.parsed.version}"
                )
            if parsed.version == known.parsed.version and signed != known.signed:
                raise Rollback(f"user {user}: two different lists with version {parsed.version}")
        self.pins[user] = parsed.identity_pk
        self.lists[user] = Known(signed, parsed)
        return parsed

    def acknowledge(self, user: int) -> None:
        """The app showed the identity change and the user accepted it."""
        held = self.held.pop(user, None)
        if held is None:
            return
        self.pins[user] = held.parsed.identity_pk
        self.lists[user] = held

    def current(self, user: int) -> DeviceList:
        if user in self.held:
            raise IdentityChanged(user)
        known = self.lists.get(user)
        if known is None:
            raise UntrustedDevices(f"no verified device list for user {user}")
        return known.parsed

    def device(self, user: int, device: int, now: int) -> DeviceEntry:
        """``device`` if ``user``'s current list vouches for it now."""
        for entry in self.current(user).devices:
            if entry.device == device and entry.expires > now:
                return entry
        raise UnknownDevice(f"device {device} is not in user {user}'s signed list")


def _verified(user: int, signed: bytes) -> DeviceList:
    try:
        envelope, parsed = decode_device_list(signed)
    except DecodeError as exc:
        raise UntrustedDevices(str(exc)) from None
    if parsed.user != user:
        raise UntrustedDevices(f"a list for user {parsed.user} was given as user {user}'s")
    try:
        verify(parsed.identity_pk, DEVICE_LIST_CONTEXT, envelope.body, envelope.sig)
    except BadSignature:
        raise UntrustedDevices(
            f"user {user}'s device list is not signed by its identity key"
        ) from None
    return parsed
