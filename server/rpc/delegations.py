"""delegations.list: the delegations the caller gave and received, as the
server enforces them. They are given and revoked by publishing a signed
device list (``keys.publish``), never by a call the server could fake."""

from __future__ import annotations

from protocol.model import Empty
from protocol.practice import DelegationsResult
from server.connection import Connection
from server.context import Services
from server.ops.delegations import delegation_info

__all__ = ["list_delegations"]


async def list_delegations(ctx: Services, conn: Connection, _: Empty) -> DelegationsResult:
    given = await ctx.store.delegations.by(conn.user_id)
    received = await ctx.store.delegations.to(conn.user_id)
    return DelegationsResult(
        [delegation_info(r.principal_id, r.delegate_id, r.grant) for r in given],
        [delegation_info(r.principal_id, r.delegate_id, r.grant) for r in received],
    )
