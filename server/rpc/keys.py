"""keys.publish, keys.fetch: the signed device directory.

The server checks what it can without trusting itself: the list is signed by
the identity key it names, it is the caller's, its version only grows, and
every device in it is one of the caller's own devices (so no list can claim
another user's device id). Clients still verify everything and pin identity
keys; the server cannot forge a list, only withhold a newer one.
"""

from __future__ import annotations

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from sqlalchemy.ext.asyncio import AsyncConnection

from protocol.codec import to_raw
from protocol.e2e import DEVICE_LIST_CONTEXT, decode_device_list
from protocol.errors import DecodeError, ErrorCode
from protocol.events import KeysUpdated
from protocol.methods import KeysFetchParams, KeysFetchResult, KeysPublishParams, KeysPublishResult
from server.connection import Connection
from server.context import Context
from server.errors import ServerError, forbidden, invalid
from server.writer import Outgoing
from storage.keys import Keys

__all__ = ["fetch", "publish"]

MAX_LIST_BYTES = 16 * 1024


async def publish(ctx: Context, conn: Connection, p: KeysPublishParams) -> KeysPublishResult:
    if len(p.list) > MAX_LIST_BYTES:
        raise ServerError(ErrorCode.TOO_LARGE, f"device list over {MAX_LIST_BYTES} bytes")
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
    device_ids = [entry.device for entry in body.devices]
    if len(set(device_ids)) != len(device_ids):
        raise invalid("a device appears twice in the list")
    owners = await ctx.store.keys.device_owners(device_ids)
    foreign = sorted(d for d in device_ids if owners.get(d) != conn.user_id)
    if foreign:
        raise forbidden("the list names devices that are not yours", devices=foreign)
    previous = (await ctx.directory.device_lists([conn.user_id])).get(conn.user_id)
    changed = previous is not None and previous.identity_pk != body.identity_pk
    recipients = sorted({conn.user_id, *await ctx.directory.contacts(conn.user_id)})
    now = ctx.clock.ms()

    async def store(db: AsyncConnection, out: list[Outgoing]) -> None:
        if not await Keys.replace(db, conn.user_id, body.version, p.list, now):
            raise ServerError(
                ErrorCode.CONFLICT,
                "a device list with this version or a newer one is already published",
            )
        event = to_raw(KeysUpdated(conn.user_id, body.version, identity_changed=changed))
        for user_id in recipients:  # one stored event each, so each replays it once
            out.append(
                Outgoing(
                    "keys.updated", event, [user_id], user_id=user_id, keys_changed=conn.user_id
                )
            )

    await ctx.writer.run(store)
    return KeysPublishResult(body.version)


async def fetch(ctx: Context, conn: Connection, p: KeysFetchParams) -> KeysFetchResult:
    """Lists of the caller, the people they share a thread with, and the
    delegates those people named (an assistant's devices receive keys too)."""
    visible = {conn.user_id, *await ctx.directory.contacts(conn.user_id)}
    for listed in (await ctx.directory.device_lists(visible)).values():
        visible.update(delegate.user for delegate in listed.delegates)
    hidden = sorted(set(p.users) - visible)
    if hidden:
        raise forbidden("you share no thread with these users", users=hidden)
    return KeysFetchResult(await ctx.store.keys.lists(p.users))
