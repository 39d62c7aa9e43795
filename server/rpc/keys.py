"""keys.publish, keys.fetch: the signed device directory.

The server checks what it can without trusting itself: the list is signed by
the identity key it names, it is the caller's, its version only grows, and
every device in it is one of the caller's own devices (so no list can claim
another user's device id). Clients still verify everything and pin identity
keys; the server cannot forge a list, only withhold a newer one.

The list's delegates are the practitioner's delegations: each must be an
assistant or a bot of a shared practice, with a valid scope. Publishing indexes them
(``storage.delegations``) and tells each delegate whose delegation changed
(``delegation.updated``; their sockets reconnect with the new one).
"""

from __future__ import annotations

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from protocol.codec import to_raw
from protocol.e2e import DEVICE_LIST_CONTEXT, Delegate, DeviceList, decode_device_list
from protocol.errors import DecodeError, ErrorCode
from protocol.events import KeysUpdated
from protocol.methods import (
    KeysFetchParams,
    KeysFetchResult,
    KeysPublishParams,
    KeysPublishResult,
    PublishedList,
)
from protocol.model import Role
from server.broker.control import KeysChanged
from server.connection import Connection
from server.context import Context
from server.errors import ServerError, forbidden, invalid
from server.ops.delegations import delegation_ended, delegation_updated, stored_grant
from server.ops.users import visible_users
from server.policy import delegate_refusal
from server.writer import Emitted, Outgoing
from storage.delegations import Grant
from storage.tx import WriteTx

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
    now = ctx.clock.ms()
    previous = (await ctx.directory.device_lists([conn.user_id])).get(conn.user_id)
    delegates = await _delegates(ctx, conn, body.delegates, previous, now)
    changed = previous is not None and previous.identity_pk != body.identity_pk
    recipients = sorted({conn.user_id, *await ctx.directory.contacts(conn.user_id)})

    async def store(tx: WriteTx, out: Emitted) -> None:
        if not await tx.keys.replace(conn.user_id, body.version, p.list, now):
            raise ServerError(
                ErrorCode.CONFLICT,
                "a device list with this version or a newer one is already published",
            )
        at = await out.position(tx)
        for delegate, grant in (await tx.delegations.replace(conn.user_id, delegates, at)).items():
            out.append(delegation_updated(conn.user_id, delegate, grant))
        # A practice may have stopped joining them since we looked.
        for ended in await tx.delegations.drop_unshared(conn.user_id):
            out.extend(delegation_ended(ended.principal_id, ended.delegate_id))
        event = to_raw(KeysUpdated(conn.user_id, body.version, identity_changed=changed))
        for user_id in recipients:  # one stored event each, so each replays it once
            out.append(
                Outgoing(
                    "keys.updated",
                    event,
                    [user_id],
                    user_id=user_id,
                    control=KeysChanged(conn.user_id),
                )
            )

    await ctx.writer.run(store)
    return KeysPublishResult(body.version)


async def _delegates(
    ctx: Context, conn: Connection, listed: list[Delegate], previous: DeviceList | None, now: int
) -> dict[int, Grant]:
    """The list's current delegations the server enforces, by delegate. A
    new or changed one that is not allowed refuses the list; one carried
    over from the previous list that no longer is (its delegate left the
    practice) is left out, so the practitioner can always publish."""
    current = [d for d in listed if d.expires is None or d.expires > now]
    if not current:
        return {}
    if len({d.user for d in current}) != len(current):
        raise invalid("a delegate appears twice in the list")
    colleagues = {
        user.id: Role(user.role)
        for practice in await ctx.store.practices.of_user(conn.user_id)
        for user in practice.members
    }
    carried = previous.delegates if previous is not None else []
    allowed = {}
    for grant in current:
        refusal = delegate_refusal(conn.role, grant, colleagues)
        if refusal is None:
            allowed[grant.user] = stored_grant(grant)
        elif grant not in carried:
            raise refusal.error()
    return allowed


async def fetch(ctx: Context, conn: Connection, p: KeysFetchParams) -> KeysFetchResult:
    """Lists of the caller, the people they share a thread with, and the
    delegates those people named (an assistant's devices receive keys too);
    for a delegate, the same for each practitioner they read for. Anyone
    else is left out, as is a user without a list: the answer does not
    tell which."""
    visible = await visible_users(ctx, conn)
    found = await ctx.store.keys.lists(sorted(set(p.users) & visible))
    return KeysFetchResult([PublishedList(user, signed) for user, signed in sorted(found.items())])
