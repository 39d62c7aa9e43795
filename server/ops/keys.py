"""A device list's publication in steps: ``plan_publish`` checks what the
server can of a signed list already verified (its devices are the caller's,
its delegations are allowed) into a ``PublishPlan``; ``store_publish``
stores it in the writer's transaction, unless a list as new is there
already, indexes its delegations and tells whoever must know."""

from __future__ import annotations

from dataclasses import dataclass

from protocol.codec import to_raw
from protocol.e2e import Delegate, DeviceList
from protocol.events import KeysUpdated
from protocol.model import Role
from server.broker.control import KeysChanged
from server.connection import Connection
from server.context import Services
from server.errors import conflict, forbidden, invalid
from server.ops.delegations import delegation_ended, delegation_updated, stored_grant
from server.policy import delegate_refusal
from server.writer import Emitted, Outgoing
from storage.delegations import Grant
from storage.tx import WriteTx

__all__ = ["PublishPlan", "plan_publish", "store_publish"]


@dataclass(frozen=True, slots=True)
class PublishPlan:
    user: int
    version: int
    signed: bytes  # the list as published
    delegates: dict[int, Grant]  # the delegations it gives, by delegate
    identity_changed: bool
    recipients: list[int]  # the user and their contacts: ``keys.updated`` each
    now: int


async def plan_publish(
    ctx: Services, conn: Connection, signed: bytes, body: DeviceList
) -> PublishPlan:
    """``body``: the list ``signed``, verified to be the caller's."""
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
    return PublishPlan(conn.user_id, body.version, signed, delegates, changed, recipients, now)


async def store_publish(plan: PublishPlan, tx: WriteTx, out: Emitted) -> None:
    user = plan.user
    if not await tx.keys.replace(user, plan.version, plan.signed, plan.now):
        raise conflict("a device list with this version or a newer one is already published")
    at = await out.position(tx)
    for delegate, grant in (await tx.delegations.replace(user, plan.delegates, at)).items():
        out.append(delegation_updated(user, delegate, grant))
    # A practice may have stopped joining them since we looked.
    for ended in await tx.delegations.drop_unshared(user):
        out.extend(delegation_ended(ended.principal_id, ended.delegate_id))
    event = to_raw(KeysUpdated(user, plan.version, identity_changed=plan.identity_changed))
    for user_id in plan.recipients:  # one stored event each, so each replays it once
        out.append(
            Outgoing("keys.updated", event, [user_id], user_id=user_id, control=KeysChanged(user))
        )


async def _delegates(
    ctx: Services, conn: Connection, listed: list[Delegate], previous: DeviceList | None, now: int
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
