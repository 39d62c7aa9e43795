"""Delegation: which assistant may act for which practitioner, and through
whom a delegate reaches a thread. Pure functions over plain data; the
grants come from the practitioner's signed device list (``protocol.e2e``)."""

from __future__ import annotations

from collections.abc import Mapping

from protocol.e2e import Delegate, Scope, parse_scope
from protocol.model import Role
from protocol.practice import RefusalReason
from server.policy.refusal import Refusal

__all__ = ["DELEGATE_ROLES", "delegate_refusal", "delegated_member"]

# Who may act for a practitioner: their assistants, and bots that answer for them.
DELEGATE_ROLES = frozenset({Role.ASSISTANT, Role.BOT})


def delegate_refusal(
    principal_role: Role, grant: Delegate, colleagues: Mapping[int, Role]
) -> Refusal | None:
    """None if a ``principal_role`` user may name ``grant`` in their list;
    ``colleagues`` are the users sharing a practice with them, and roles."""
    if principal_role is not Role.PRACTITIONER:
        return Refusal(RefusalReason.ROLE, "only practitioners delegate their inbox")
    try:
        parse_scope(grant.scope)
    except ValueError as exc:
        return Refusal(RefusalReason.BAD_SCOPE, str(exc), {"delegate": grant.user})
    if colleagues.get(grant.user) not in DELEGATE_ROLES:
        return Refusal(
            RefusalReason.NOT_COLLEAGUE,
            "a delegate is an assistant or a bot of one of your practices",
            {"delegate": grant.user},
        )
    return None


def delegated_member(
    members: Mapping[int, Role],
    grants: Mapping[int, Delegate],
    scope: Scope,
    now: int,
    acting_for: int | None = None,
) -> int | None:
    """The practitioner among ``members`` whose delegation (``grants``, by
    principal) lets the caller act within ``scope`` now; only ``acting_for``
    if given. None if there is none."""
    candidates = [acting_for] if acting_for is not None else sorted(grants)
    for principal in candidates:
        grant = grants.get(principal)
        if members.get(principal) is Role.PRACTITIONER and grant and grant.allows(scope, now):
            return principal
    return None
