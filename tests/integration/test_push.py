"""Push subscriptions through a real socket: the server's VAPID key, one
subscription per device, an endpoint that belongs to one account, and only
the deployment's push services."""

from __future__ import annotations

import json
import os
from pathlib import Path

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from protocol.errors import ErrorCode
from protocol.model import Empty
from protocol.push import PushSubscribeParams
from server.webpush import VapidKey, b64url
from tests.integration.test_practice import refused
from tests.support.pushservice import push_service
from tests.support.server import RunningServer

P256DH = b64url(b"\x04" + os.urandom(64))
AUTH = b64url(os.urandom(16))


def subscription(name: str) -> PushSubscribeParams:
    return PushSubscribeParams(f"https://fcm.googleapis.com/fcm/send/{name}", P256DH, AUTH)


async def test_the_key_is_the_deployments_and_is_kept(server: RunningServer) -> None:
    patient = await server.user("patient", publish_keys=False)
    async with server.client(patient) as client:
        offered = (await client.call("push.key", Empty())).public_key
    assert offered == VapidKey.load_or_create(Path(server.env["CAREHUB_PUSH_KEY_FILE"])).public


async def test_an_endpoint_belongs_to_one_account(server: RunningServer) -> None:
    patient = await server.user("patient", publish_keys=False)
    other = await server.user("patient", publish_keys=False)
    async with server.client(patient) as client, server.client(other) as stranger:
        await client.call("push.subscribe", subscription("phone-1"))
        await client.call("push.subscribe", subscription("phone-1"))  # again: the same
        taken = stranger.call("push.subscribe", subscription("phone-1"))
        await refused(taken, None, ErrorCode.CONFLICT)
        await client.call("push.unsubscribe", Empty())
        await stranger.call("push.subscribe", subscription("phone-1"))  # free again


async def test_a_new_subscription_of_a_device_replaces_its_old_one(server: RunningServer) -> None:
    patient = await server.user("patient", publish_keys=False)
    other = await server.user("patient", publish_keys=False)
    async with server.client(patient) as client, server.client(other) as stranger:
        await client.call("push.subscribe", subscription("old"))
        await client.call("push.subscribe", subscription("new"))
        await stranger.call("push.subscribe", subscription("old"))  # the device let it go


async def test_only_the_deployments_push_services_are_accepted(server: RunningServer) -> None:
    patient = await server.user("patient", publish_keys=False)
    async with server.client(patient) as client:
        for endpoint in ("https://169.254.169.254/latest", "http://fcm.googleapis.com/fcm/x"):
            params = PushSubscribeParams(endpoint, P256DH, AUTH)
            await refused(client.call("push.subscribe", params), None, ErrorCode.INVALID)


def browser_keys() -> tuple[ec.EllipticCurvePrivateKey, str, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return key, b64url(point), os.urandom(16)


async def test_a_device_without_a_socket_gets_a_push_that_says_nothing(make_server) -> None:  # type: ignore[no-untyped-def]
    async with push_service() as service:
        server = make_server(push_services=service.origin, push_poll_seconds=0.1)
        doctor, patient, thread = await server.patient_thread()
        key, p256dh, auth = browser_keys()
        phone = PushSubscribeParams(service.endpoint("patient-phone"), p256dh, b64url(auth))
        async with server.client(patient) as device, server.secure(doctor) as desk:
            await device.call("push.subscribe", phone)
            await desk.send(thread, "Vos résultats sont normaux, Camille.")
            assert (await device.next_event("message.new")).data.thread == thread  # live
        # The phone's app is closed now: the next message is pushed.
        async with server.secure(doctor) as desk:
            await desk.send(thread, "Pensez au rendez-vous de contrôle.")
            got = await service.next()
        opened = http_ece.decrypt(got.body, private_key=key, auth_secret=auth, version="aes128gcm")
        assert json.loads(opened) == {
            "thread": thread,
            "count": 2,
            "kind": "message",
        }  # both unread
        assert got.headers["topic"] == f"thread-{thread}"
        assert service.received == [got]  # nothing for the message the open app received
