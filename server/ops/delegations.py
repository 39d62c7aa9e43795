"""Delegations as the server stores and announces them: a practitioner's
signed grant to an assistant or a bot, kept as a ``Grant`` row, told to
the delegate as a ``delegation.updated`` event."""

from __future__ import annotations

from protocol.codec import to_raw
from protocol.e2e import Delegate, Scope, parse_scope
from protocol.practice import Delegation
from server.broker.control import AccessChanged
from server.writer import Outgoing
from storage.delegations import Grant

__all__ = ["delegation_ended", "delegation_info", "delegation_updated", "stored_grant"]


def stored_grant(delegate: Delegate) -> Grant:
    return Grant(delegate.scope, Scope.READ in parse_scope(delegate.scope), delegate.expires)


def delegation_updated(principal: int, delegate: int, grant: Grant | None) -> Outgoing:
    """The event telling ``delegate`` their delegation from ``principal``
    changed (``grant``) or ended (None); their sockets reconnect."""
    data = (
        Delegation(principal, delegate, [], revoked=True)
        if grant is None
        else delegation_info(principal, delegate, grant)
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


def delegation_info(principal: int, delegate: int, grant: Grant) -> Delegation:
    return Delegation(principal, delegate, sorted(parse_scope(grant.scope)), grant.expires)
