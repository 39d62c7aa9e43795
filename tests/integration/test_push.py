"""Push subscriptions through a real socket: the server's VAPID key, one
subscription per device, an endpoint that belongs to one account, and only
the deployment's push services."""

from __future__ import annotations

import os
from pathlib import Path

from protocol.errors import ErrorCode
from protocol.model import Empty
from protocol.push import PushSubscribeParams
from server.webpush import VapidKey, b64url
from tests.integration.test_practice import refused
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
