"""users.get: how the people a user deals with show, and who may be shown.

A user sees the people they share a thread with, the practitioners they
read for (a delegate) and those practitioners' contacts, and every
assistant or bot those people named as delegates in their signed lists:
exactly whose keys they may fetch (``keys.fetch``). Anyone else is left
out of an answer, as if unknown.
"""

from __future__ import annotations

from protocol.e2e import Scope
from protocol.methods import AccountInfo, AccountParams
from protocol.model import Empty, Role
from protocol.practice import UserProfile, UsersParams, UsersResult
from protocol.texts import Locale
from server.connection import Connection
from server.context import Services
from server.ops.profile import past_day
from server.ops.users import visible_among, visible_users
from server.policy import DELEGATE_ROLES

__all__ = ["get_account", "get_users", "set_account"]


async def get_account(ctx: Services, conn: Connection, _: Empty) -> AccountInfo:
    found = await ctx.store.accounts.users([conn.user_id])
    user = found[conn.user_id]
    born = await ctx.store.accounts.birth_date(conn.user_id)
    return AccountInfo(user.id, user.display_name, Role(user.role), Locale(conn.locale), born)


async def set_account(ctx: Services, conn: Connection, p: AccountParams) -> AccountInfo:
    """The caller's language (refusals on this socket are worded in it from
    now on, on their other sockets once they reconnect) and date of birth."""
    changed = {"locale": p.locale.value} if p.locale is not None else {}
    if p.birth_date is not None:
        changed["birth_date"] = past_day(p.birth_date, ctx.clock.ms())
    if changed:
        await ctx.store.accounts.set_profile(conn.user_id, **changed)
    conn.locale = changed.get("locale", conn.locale)
    return await get_account(ctx, conn, Empty())


async def get_users(ctx: Services, conn: Connection, p: UsersParams) -> UsersResult:
    """Each visible user's name and role (``bot`` marks a bot), and for an
    assistant or a bot, the visible practitioners they answer for now."""
    visible = await visible_users(ctx, conn)
    wanted = sorted(await visible_among(ctx, conn, p.users, visible))
    found = await ctx.store.accounts.users(wanted)
    now = ctx.clock.ms()
    profiles = []
    for user_id in wanted:
        if user_id not in found:
            continue
        user, role = found[user_id], Role(found[user_id].role)
        acting_for = []
        if role in DELEGATE_ROLES:
            grants = await ctx.directory.grants(user_id)
            acting_for = sorted(
                principal
                for principal, grant in grants.items()
                if principal in visible and grant.allows(Scope.REPLY, now)
            )
        profiles.append(UserProfile(user_id, user.display_name, role, acting_for))
    return UsersResult(profiles)
