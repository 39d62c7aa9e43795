"""The node sending the pushes killed mid-way (SIGKILL), on three nodes
sharing PostgreSQL and Redis: another node takes the ``push`` lease over and
finishes, and no push is lost.

What is guaranteed: the outbox hands each push over at least once, under an
id that stays the same on every attempt (the payload's ``id``). A node
records an entry as delivered only once the push service has taken it, so
the entry a dead node had in hand (sent, not yet recorded) is sent again by
another node once its claim runs out (``notification_claim_seconds``): that
push arrives twice, with the same id, and the device drops the repeat. A
round hands one person's pushes over one at a time (several people's at
once), so a node killed repeats at most the one push in hand for each person
of the batch it was sending; every other push arrives once. Here one
patient's eight devices wait for one push each: one is in hand at the kill.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import http_ece
import redis.asyncio as redis
from cryptography.hazmat.primitives.asymmetric import ec

from clients import Credentials
from protocol.push import PushSubscribeParams
from server.broker.redis_keys import Keys
from server.webpush import b64url
from tests.integration.test_nodes import three_nodes
from tests.integration.test_push import browser_keys
from tests.support.pushservice import PushService, Received, push_service
from tests.support.server import RunningServer

DEVICES = 8  # the patient's, each subscribed, all closed
BURST = 3  # messages, one after another
SETTINGS = {
    "push_poll_seconds": 0.2,  # a dead holder's lease lapses within 1.5 s
    "notification_claim_seconds": 2.0,  # the entry it had in hand is free again after 2 s
}


@dataclass(frozen=True)
class Device:
    """A closed device: its endpoint's name and its subscription's keys."""

    name: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes

    def open(self, got: Received) -> dict[str, Any]:
        opened = http_ece.decrypt(
            got.body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        said: dict[str, Any] = json.loads(opened)
        return said


@dataclass
class Pushes:
    """What the push service received, opened with each device's keys."""

    service: PushService
    devices: dict[str, Device]

    def said(self, got: Received) -> dict[str, Any]:
        return self.devices[got.path.rsplit("/", 1)[1]].open(got)

    def saying(self, thread: int, count: int) -> set[str]:
        """The devices that were told ``count`` messages wait in ``thread``."""
        wanted = {"thread": thread, "count": count, "kind": "message"}.items()
        return {
            got.path.rsplit("/", 1)[1]
            for got in self.service.received
            if wanted <= self.said(got).items()
        }

    def copies(self, said: dict[str, Any]) -> int:
        return sum(self.said(got) == said for got in self.service.received)


async def test_a_node_killed_mid_way_neither_loses_nor_doubles_a_push(
    postgres: Any, redis_server: Any, tmp_path: Path
) -> None:
    async with push_service() as service:
        nodes = three_nodes(
            postgres, redis_server.url, tmp_path, push_services=service.origin, **SETTINGS
        )
        try:
            await _killed_mid_way(service, nodes, redis_server.url)
        finally:
            for node in nodes:
                node.stop()


async def _killed_mid_way(service: PushService, nodes: list[RunningServer], redis_url: str) -> None:
    """A burst reaches the patient's closed devices. One more message does
    too: its pushes are queued at once (one message, one transaction) and
    handed over one by one; the node sending them dies with the first in
    hand, when nothing is left for the queue to find, only the outbox to
    finish."""
    first = nodes[0]
    doctor, patient, thread = await first.patient_thread()
    logins = {"device-0": patient}
    logins |= {f"device-{i}": await first.other_device(patient) for i in range(1, DEVICES)}
    pushes = Pushes(service, await _subscribed(logins, service, nodes))
    devices = logins.keys()
    async with first.secure(doctor) as desk:
        for n in range(BURST):
            await desk.send(thread, f"Résultat {n + 1} disponible.")
        # A person's pushes are handed over in the order they were queued:
        # once every device has the whole burst's count, none is left.
        while pushes.saying(thread, BURST) != devices:
            await service.next()
        service.hold = lambda got: pushes.said(got)["count"] == BURST + 1
        await desk.send(thread, "Pensez au rendez-vous de contrôle.")
    await asyncio.wait_for(service.held.wait(), 15)
    assert service.in_hand is not None
    in_hand = pushes.said(service.in_hand)
    holder = await _push_lease_holder(nodes, redis_url)
    assert holder.process is not None
    holder.process.kill()
    await asyncio.to_thread(holder.process.wait)
    service.released.set()
    assert len(pushes.saying(thread, BURST + 1)) == 1  # the one in hand: the rest wait

    while pushes.saying(thread, BURST + 1) != devices:  # a survivor finishes,
        await service.next()
    while pushes.copies(in_hand) < 2:  # and sends the one in hand again once its claim ends
        await service.next()
    ids = Counter(pushes.said(got)["id"] for got in service.received)
    repeated = {entry: n for entry, n in ids.items() if n > 1}
    assert repeated == {in_hand["id"]: 2}  # the repeat says the same, under the same id


async def _subscribed(
    logins: dict[str, Credentials], service: PushService, nodes: list[RunningServer]
) -> dict[str, Device]:
    """Each login's device subscribed (through the nodes in turn) with keys
    of its own under its name, then closed."""
    devices: dict[str, Device] = {}
    for i, (name, login) in enumerate(logins.items()):
        key, p256dh, auth = browser_keys()
        devices[name] = Device(name, key, auth)
        subscription = PushSubscribeParams(service.endpoint(name), p256dh, b64url(auth))
        async with nodes[i % len(nodes)].client(login) as app:
            await app.call("push.subscribe", subscription)
    return devices


async def _push_lease_holder(nodes: list[RunningServer], redis_url: str) -> RunningServer:
    """The node holding the ``push`` lease (its name, in Redis)."""
    client = redis.from_url(redis_url)
    try:
        holder = await client.get(Keys().lease("push"))
    finally:
        await client.aclose()
    assert isinstance(holder, bytes), "nobody holds the push lease"
    (node,) = [node for node in nodes if node.env["CAREHUB_NODE_ID"] == holder.decode()]
    return node
