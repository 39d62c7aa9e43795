"""Who may bring whom into a thread (``threads.open``, ``threads.add_member``).

Every practitioner in a thread is verified: an unverified practitioner
reaches nobody, and nobody brings one in. A care-team group is convened by
a verified practitioner, or by a delegate acting for one who is in it. A
patient is brought into a group only by one of their own practitioners (or
such a delegate of theirs); the refusal reads the same whether or not the
patient is anyone else's, so it tells the caller nothing about them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from protocol.e2e import Scope
from protocol.model import Role
from protocol.practice import (
    RefusalReason,
)
from server.connection import Connection
from server.context import Services
from server.policy import (
    Refusal,
)

__all__ = [
    "require_care_principals",
    "require_patients_of",
    "require_role",
    "require_verified",
    "require_verified_practitioner",
]


async def require_verified(ctx: Services, conn: Connection, roles: Mapping[int, Role]) -> None:
    """Every practitioner of ``roles`` is verified, the caller first."""
    practitioners = sorted(
        (user for user, role in roles.items() if role is Role.PRACTITIONER),
        key=lambda user: user != conn.user_id,
    )
    for user in practitioners:
        if not (await ctx.directory.practitioner(user)).verified:
            whose = "your account is" if user == conn.user_id else "a practitioner's account is"
            raise Refusal(RefusalReason.NOT_VERIFIED, f"{whose} not verified yet").error()


async def require_care_principals(
    ctx: Services, conn: Connection, members: Mapping[int, Role]
) -> list[int]:
    """The verified practitioners the caller acts as in a group of ``members``:
    themselves, or those among ``members`` who delegated ``reply`` to them and
    whose delegation holds now. ``not_delegated`` if there is none."""
    if conn.role is Role.PRACTITIONER:
        return [conn.user_id]  # verified: ``require_verified`` came first
    now = ctx.clock.ms()
    principals = [
        principal
        for principal, grant in sorted(conn.grants.items())
        if members.get(principal) is Role.PRACTITIONER
        and grant.allows(Scope.REPLY, now)
        and (await ctx.directory.practitioner(principal)).verified
    ]
    if not principals:
        raise Refusal(
            RefusalReason.NOT_DELEGATED,
            "you act in a care team only for a practitioner in it who delegated replies to you",
        ).error()
    return principals


async def require_patients_of(
    ctx: Services, principals: list[int], patients: Iterable[int]
) -> None:
    """Each of ``patients`` is a patient of one of ``principals``."""
    for patient in patients:
        for principal in principals:
            if await ctx.store.practices.is_patient(principal, patient):
                break
        else:
            raise Refusal(
                RefusalReason.NOT_A_PATIENT,
                "you bring into a care team only your own patients"
                " (or those of the practitioner you act for)",
            ).error()


def require_role(conn: Connection, role: Role, action: str) -> None:
    if conn.role is not role:
        raise Refusal(RefusalReason.ROLE, f"only a {role.value} can {action}").error()


async def require_verified_practitioner(ctx: Services, conn: Connection, action: str) -> None:
    require_role(conn, Role.PRACTITIONER, action)
    if not (await ctx.directory.practitioner(conn.user_id)).verified:
        raise Refusal(RefusalReason.NOT_VERIFIED, "your account is not verified yet").error()
