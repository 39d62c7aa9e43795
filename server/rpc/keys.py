"""keys.publish, keys.fetch: the signed device directory; keys.distribute,
keys.sender_key: sender keys (version 2 envelopes, ``docs/e2e.md``).

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

A sender key is stored as its device signed it, with the key sealed to
exactly the thread's readers' devices (``server.ops.sender_keys``); each of
those devices, and no other, fetches its own sealed copy while it can read
the thread. The server never holds the key itself.
"""

from __future__ import annotations

from functools import partial

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from protocol.e2e import (
    DEVICE_LIST_CONTEXT,
    Scope,
    check_recipients,
    decode_device_list,
    decode_sender_key,
)
from protocol.errors import DecodeError
from protocol.methods import (
    KeysDistributeParams,
    KeysDistributeResult,
    KeysFetchParams,
    KeysFetchResult,
    KeysPublishParams,
    KeysPublishResult,
    KeysSenderKeyParams,
    KeysSenderKeyResult,
    PublishedList,
)
from server.connection import Connection
from server.context import Services
from server.errors import conflict, forbidden, invalid, not_found, too_large
from server.ops.access import thread_of
from server.ops.keys import plan_publish, store_publish
from server.ops.sender_keys import require_coverage
from server.ops.users import visible_among
from server.writer import Outgoing
from storage.keys import SenderKeyRef
from storage.tx import WriteTx

__all__ = ["distribute", "fetch", "publish", "sender_key"]

MAX_LIST_BYTES = 16 * 1024
MAX_SENDER_KEY_BYTES = 512  # a signed SenderKey is about 170


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
    """Lists of the caller, the people they share a thread with or who
    wrote in one of theirs, and the delegates those people named (an
    assistant's devices receive keys too); for a delegate, the same for
    each practitioner they read for. Anyone else is left out, as is a user
    without a list: the answer does not tell which."""
    found = await ctx.store.keys.lists(sorted(await visible_among(ctx, conn, p.users)))
    return KeysFetchResult([PublishedList(user, signed) for user, signed in sorted(found.items())])


async def distribute(
    ctx: Services, conn: Connection, p: KeysDistributeParams
) -> KeysDistributeResult:
    """Store this device's new sender key for a thread it may write in,
    sealed to exactly the thread's readers' current devices."""
    if len(p.key) > MAX_SENDER_KEY_BYTES:
        raise too_large(f"sender key over {MAX_SENDER_KEY_BYTES} bytes")
    try:
        key = decode_sender_key(p.key)[1]
        check_recipients(p.recipients, "recipients")
    except DecodeError as exc:
        raise invalid(str(exc)) from None
    if key.thread != p.thread:
        raise invalid("the sender key names another thread", thread=key.thread)
    if (key.sender_user, key.sender_device) != (conn.user_id, conn.device_id):
        raise forbidden("the sender key names another sender")
    devices = [r.device for r in p.recipients]
    access = await thread_of(ctx, conn, p.thread, Scope.REPLY)
    now = ctx.clock.ms()
    await require_coverage(ctx, access.members, devices, now)
    ref = SenderKeyRef(p.thread, conn.device_id, key.key_id)
    wrapped = [(r.device, r.key) for r in p.recipients]

    async def store(tx: WriteTx, out: list[Outgoing]) -> bool:
        if await tx.keys.distribute(ref, conn.user_id, p.key, wrapped, now):
            return False
        if await tx.keys.stored_key(ref) != p.key:
            raise conflict("this device already distributed another key with this id")
        return True

    return KeysDistributeResult(duplicate=await ctx.writer.run(store, p.thread))


async def sender_key(
    ctx: Services, conn: Connection, p: KeysSenderKeyParams
) -> KeysSenderKeyResult:
    """The sender key, sealed to the calling device, while the caller may
    read the thread. A key never sealed to this device is ``not_found``,
    whether or not it exists."""
    await thread_of(ctx, conn, p.thread, Scope.READ)
    found = await ctx.store.keys.sender_key(
        SenderKeyRef(p.thread, p.device, p.key_id), conn.device_id
    )
    if found is None:
        raise not_found("no such sender key for this device")
    signed, wrapped = found
    return KeysSenderKeyResult(signed, wrapped)
