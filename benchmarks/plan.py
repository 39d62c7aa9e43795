"""What a scenario asks of a target: users, rooms, and the links (sockets) the
generator opens, independent of any target's protocol."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Link", "Plan", "Stamp", "chat", "fanout", "idle"]


@dataclass(frozen=True, slots=True)
class Link:
    """One WebSocket the generator opens, as device ``device`` of ``user``."""

    index: int
    user: int
    device: int
    room: int
    publishes: bool
    fanout: int  # deliveries each message published on this link must produce


@dataclass
class Plan:
    scenario: str
    roles: list[str]  # role of each user
    devices: int  # devices (links) per user
    rooms: list[list[int]]  # the users of each room
    links: list[Link] = field(default_factory=list)

    @property
    def publishers(self) -> int:
        return sum(link.publishes for link in self.links)


def chat(pairs: int, devices: int = 2) -> Plan:
    """``pairs`` practitioner-patient threads; each user on ``devices`` devices.
    The first device of each user publishes; a message reaches the peer's
    devices and the sender's other devices."""
    plan = Plan("chat", [], devices, [])
    for pair in range(pairs):
        practitioner, patient = 2 * pair, 2 * pair + 1
        plan.roles += ["practitioner", "patient"]
        plan.rooms.append([practitioner, patient])
        for user in (practitioner, patient):
            for device in range(devices):
                plan.links.append(
                    Link(len(plan.links), user, device, pair, device == 0, 2 * devices - 1)
                )
    return plan


def fanout(members: int, publishers: int = 10) -> Plan:
    """One group thread of ``members`` users (one device each); the first
    ``publishers`` of them publish, every message reaches all the others."""
    plan = Plan("fanout", ["practitioner"] * members, 1, [list(range(members))])
    publishers = min(publishers, members)
    plan.links = [Link(u, u, 0, 0, u < publishers, members - 1) for u in range(members)]
    return plan


def idle(connections: int) -> Plan:
    """Authenticated connections that only keep their heartbeats; paired
    into two-person rooms so each has a peer."""
    users = connections + connections % 2
    plan = Plan("connections", ["practitioner", "patient"] * (users // 2), 1, [])
    plan.rooms = [[u, u + 1] for u in range(0, users, 2)]
    plan.links = [Link(u, u, 0, u // 2, False, 1) for u in range(connections)]
    return plan


@dataclass(frozen=True, slots=True)
class Stamp:
    """What every published payload starts with, so that any receiver can
    measure latency and attribute the delivery to its load step."""

    sent_ns: int  # the *scheduled* send time (monotonic), so a late sender counts
    step: int
    link: int
    number: int
