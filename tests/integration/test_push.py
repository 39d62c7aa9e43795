"""Push subscriptions through a real socket: the server's VAPID key, one
subscription per device, an endpoint that belongs to one account, and only
the deployment's push services."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from clients import logout
from protocol.booking import CancelParams, ConfirmParams, HoldParams
from protocol.errors import ErrorCode
from protocol.model import Empty
from protocol.push import PushSubscribeParams
from server.webpush import VapidKey, b64url
from tests.integration.test_booking import free, practitioner_with_agenda
from tests.integration.test_nodes import three_nodes
from tests.integration.test_practice import refused
from tests.support.pushservice import PushService, push_service
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
        await pushed_only_once_closed(service, device_node=server, desk_node=server)


async def test_a_device_on_another_node_gets_no_push_while_its_app_is_open(
    postgres: Any, redis_server: Any, tmp_path: Path
) -> None:
    """The push queue runs on one node; the device's socket is on another."""
    async with push_service() as service:
        nodes = three_nodes(
            postgres,
            redis_server.url,
            tmp_path,
            push_services=service.origin,
            push_poll_seconds=0.1,
        )
        try:
            await pushed_only_once_closed(service, device_node=nodes[2], desk_node=nodes[0])
        finally:
            for node in nodes:
                node.stop()


async def test_a_device_signed_out_gets_no_more_pushes(make_server) -> None:  # type: ignore[no-untyped-def]
    async with push_service() as service:
        server = make_server(push_services=service.origin, push_poll_seconds=0.1)
        doctor, patient, thread = await server.patient_thread()
        tablet = await server.other_device(patient)
        for name, login in (("phone", patient), ("tablet", tablet)):
            _, p256dh, auth = browser_keys()
            async with server.client(login) as app:
                await app.call(
                    "push.subscribe",
                    PushSubscribeParams(service.endpoint(name), p256dh, b64url(auth)),
                )
        await logout(server.base_url, patient)  # the phone signs out
        async with server.secure(doctor) as desk:
            await desk.send(thread, "Vos résultats sont arrivés.")
        # A person's pushes go in the order of their devices: the phone's
        # would have come first.
        await service.next()
        assert [got.path for got in service.received] == ["/push/tablet"]


async def pushed_only_once_closed(
    service: PushService, *, device_node: RunningServer, desk_node: RunningServer
) -> None:
    """The patient's phone has its app open, their tablet is closed: only the
    tablet gets pushes (the first one is the marker that the queue has seen
    the message); once the phone's app is closed, it gets them too."""
    doctor, patient, thread = await desk_node.patient_thread()
    tablet = await desk_node.other_device(patient)
    key, p256dh, auth = browser_keys()
    phone_push = PushSubscribeParams(service.endpoint("phone"), p256dh, b64url(auth))
    _, tablet_p256dh, tablet_auth = browser_keys()
    tablet_push = PushSubscribeParams(
        service.endpoint("tablet"), tablet_p256dh, b64url(tablet_auth)
    )
    async with device_node.client(tablet) as closed_soon:
        await closed_soon.call("push.subscribe", tablet_push)
    async with device_node.client(patient) as phone, desk_node.secure(doctor) as desk:
        await phone.call("push.subscribe", phone_push)
        for sent in (1, 2):
            await desk.send(thread, f"Message {sent} : vos résultats sont normaux.")
            assert (await phone.next_event("message.new")).data.thread == thread  # live
            marker = await service.next()
            assert marker.path.endswith("/tablet")
    assert [got.path for got in service.received] == ["/push/tablet"] * 2  # not the open phone
    async with desk_node.secure(doctor) as desk:
        await desk.send(thread, "Pensez au rendez-vous de contrôle.")
        pushed = {(got := await service.next()).path: got for _ in range(2)}
    got = pushed["/push/phone"]
    opened = http_ece.decrypt(got.body, private_key=key, auth_secret=auth, version="aes128gcm")
    # The thread, all three messages unread, a kind: no word, no name, no reason
    # (and the push's own number, the same on a retry).
    said = json.loads(opened)
    assert said == {"id": said["id"], "thread": thread, "count": 3, "kind": "message"}
    assert got.headers["topic"] == f"thread-{thread}"


async def test_a_cancelled_appointment_reaches_the_closed_app(make_server) -> None:  # type: ignore[no-untyped-def]
    async with push_service() as service:
        server = make_server(push_services=service.origin, push_poll_seconds=0.1)
        doctor = await practitioner_with_agenda(server)
        patient = await server.user("patient", "Inès Garcia", publish_keys=False)
        key, p256dh, auth = browser_keys()
        phone = PushSubscribeParams(service.endpoint("phone"), p256dh, b64url(auth))
        async with server.client(patient) as me:
            await me.call("push.subscribe", phone)
            start = (await free(me, doctor))[2]
            held = await me.call("booking.hold", HoldParams(doctor.user_id, "consult", start))
            await me.call("booking.confirm", ConfirmParams(held.id))
        async with server.client(doctor) as desk:  # the patient's app is closed now
            await desk.call("booking.cancel", CancelParams(held.id, "Absence imprévue"))
            got = await service.next()
    opened = http_ece.decrypt(got.body, private_key=key, auth_secret=auth, version="aes128gcm")
    said = json.loads(opened)
    assert said == {"id": said["id"], "thread": 0, "count": 1, "kind": "appointment"}
    assert got.headers["urgency"] == "normal"
    assert service.received == [got]  # nothing for booking it themselves
