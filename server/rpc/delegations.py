"""delegations.list: the delegations the caller gave and received, as the
server enforces them. They are given and revoked by publishing a signed
device list (``keys.publish``), never by a call the server could fake."""

from __future__ import annotations

from protocol.codec import to_raw
from protocol.e2e import Delegate, Scope, parse_scope
from protocol.model import Empty
from protocol.practice import Delegation, DelegationsResult
from server.broker.control import AccessChanged
from server.connection import Connection
from server.context import Context
from server.writer import Outgoing
from storage.delegations import Grant

__all__ = ["delegation_ended", "delegation_updated", "list_delegations", "stored_grant"]


async def list_delegations(ctx: Context, conn: Connection, _: Empty) -> DelegationsResult:
    given = await ctx.store.delegations.by(conn.user_id)
    received = await ctx.store.delegations.to(conn.user_id)
    return DelegationsResult(
        [_delegation(r.principal_id, r.delegate_id, r.grant) for r in given],
        [_delegation(r.principal_id, r.delegate_id, r.grant) for r in received],
    )


def stored_grant(delegate: Delegate) -> Grant:
    return Grant(delegate.scope, Scope.READ in parse_scope(delegate.scope), delegate.expires)


def delegation_updated(principal: int, delegate: int, grant: Grant | None) -> Outgoing:
    """The event telling ``delegate`` their delegation from ``principal``
    changed (``grant``) or ended (None); their sockets reconnect."""
    data = (
        Delegation(principal, delegate, [], revoked=True)
        if grant is None
        else _delegation(principal, delegate, grant)
    )
    return Outgoing(
        "delegation.updated",
        to_raw(data),
        [delegate],
        user_id=delegate,
        control=AccessChanged(delegate),
    )


def delegation_ended(principal: int, delegate: int) -> list[Outgoing]:
    """A delegation the server ended (no practice joins them any more): the
    delegate loses it at once; the practitioner is told, so their app drops
    the delegate from the signed list and senders stop sealing for them."""
    return [
        delegation_updated(principal, delegate, None),
        Outgoing(
            "delegation.updated",
            to_raw(Delegation(principal, delegate, [], revoked=True)),
            [principal],
            user_id=principal,
        ),
    ]


def _delegation(principal: int, delegate: int, grant: Grant) -> Delegation:
    return Delegation(principal, delegate, sorted(parse_scope(grant.scope)), grant.expires)
