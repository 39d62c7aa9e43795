"""A patient and a doctor with end-to-end keys and no server: what the unit
tests of sealing and opening build on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from clients.e2e import Body, DeviceKeys, Identity, Outgoing, Trust
from clients.e2e.devices import entry_for
from clients.e2e.envelope import Opened, open_envelope, seal_envelope
from protocol.e2e import Delegate

__all__ = ["LATER", "NOW", "THREAD", "Person", "World", "new_world"]

NOW = 1_800_000_000_000
LATER = NOW + 10**10
THREAD = 7


@dataclass
class Person:
    user: int
    identity: Identity = field(default_factory=Identity.generate)
    devices: list[DeviceKeys] = field(default_factory=list)
    version: int = 0
    delegates: list[Delegate] = field(default_factory=list)

    def add_device(self, device: int) -> DeviceKeys:
        keys = DeviceKeys.generate(device)
        self.devices.append(keys)
        return keys

    def signed_list(self) -> bytes:
        self.version += 1
        entries = [entry_for(keys.request(self.user), self.user, LATER) for keys in self.devices]
        return self.identity.sign_list(self.user, self.version, NOW, entries, self.delegates)


@dataclass
class World:
    """A patient (one device) and a doctor (two devices) who trust each
    other's current lists, as their apps would after ``keys.fetch``."""

    patient: Person
    doctor: Person
    trust: Trust

    @property
    def recipients(self) -> dict[int, bytes]:
        return {
            keys.device: bytes(keys.enc.public_key)
            for person in (self.patient, self.doctor)
            for keys in person.devices
        }

    def seal(self, text: str = "renew my prescription", **changes: object) -> bytes:
        message = Outgoing(THREAD, self.patient.user, Body(text=text), self.recipients)
        return seal_envelope(replace(message, **changes), self.patient.devices[0]).data

    def open(
        self,
        data: bytes,
        *,
        device: DeviceKeys | None = None,
        thread: int = THREAD,
        sender: tuple[int, int] | None = None,
        seen: set[bytes] | None = None,
        sender_key: bytes | None = None,
    ) -> Opened:
        seen = set() if seen is None else seen

        def first_time(msg_id: bytes) -> bool:
            fresh = msg_id not in seen
            seen.add(msg_id)
            return fresh

        sender_user, sender_device = sender or (self.patient.user, self.patient.devices[0].device)
        return open_envelope(
            data,
            me=device or self.doctor.devices[0],
            trust=self.trust,
            thread=thread,
            sender_user=sender_user,
            sender_device=sender_device,
            now=NOW,
            first_time=first_time,
            sender_key=sender_key,
        )


def new_world() -> World:
    patient, doctor = Person(1), Person(2)
    patient.add_device(11)
    doctor.add_device(21)
    doctor.add_device(22)
    trust = Trust()
    trust.accept(1, patient.signed_list())
    trust.accept(2, doctor.signed_list())
    return World(patient, doctor, trust)
