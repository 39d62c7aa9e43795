"""keys.publish, keys.fetch: the signed device directory.

The server checks what it can without trusting itself: the list is signed by
the identity key it names, it is the caller's, its version only grows, and
every device in it is one of the caller's own devices (so no list can claim
another user's device id). Clients still verify everything and pin identity
keys; the server cannot forge a list, only withhold a newer one.

The list's delegates are the practitioner's delegations: each must be an
assistant or a bot of a shared practice, with a valid scope. Publishing indexes them
(``storage.delegations``) and tells each delegate whose delegation changed
(``delegation.updated``; their sockets reconnect with the new one). The
signature is verified here; ``server.ops.keys`` plans and stores the rest.
"""

from __future__ import annotations

from functools import partial

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from protocol.e2e import DEVICE_LIST_CONTEXT, decode_device_list
from protocol.errors import DecodeError
from protocol.methods import (
    KeysFetchParams,
    KeysFetchResult,
    KeysPublishParams,
    KeysPublishResult,
    PublishedList,
)
from server.connection import Connection
from server.context import Services
from server.errors import forbidden, invalid, too_large
from server.ops.keys import plan_publish, store_publish
from server.ops.users import visible_users

__all__ = ["fetch", "publish"]

MAX_LIST_BYTES = 16 * 1024


async def publish(ctx: Services, conn: Connection, p: KeysPublishParams) -> KeysPublishResult:
    if len(p.list) > MAX_LIST_BYTES:
        raise too_large(f"device list over {MAX_LIST_BYTES} bytes")
    try:
        signed, body = decode_device_list(p.list)
    except DecodeError as exc:
        raise invalid(str(exc)) from None
    if body.user != conn.user_id:
        raise forbidden("a device list must be your own")
    try:
        VerifyKey(body.identity_pk).verify(DEVICE_LIST_CONTEXT + signed.body, signed.sig)
    except BadSignatureError:
        raise invalid("the device list's signature does not verify") from None
    plan = await plan_publish(ctx, conn, p.list, body)
    await ctx.writer.run(partial(store_publish, plan))
    return KeysPublishResult(body.version)


async def fetch(ctx: Services, conn: Connection, p: KeysFetchParams) -> KeysFetchResult:
    """Lists of the caller, the people they share a thread with, and the
    delegates those people named (an assistant's devices receive keys too);
    for a delegate, the same for each practitioner they read for. Anyone
    else is left out, as is a user without a list: the answer does not
    tell which."""
    visible = await visible_users(ctx, conn)
    found = await ctx.store.keys.lists(sorted(set(p.users) & visible))
    return KeysFetchResult([PublishedList(user, signed) for user, signed in sorted(found.items())])
