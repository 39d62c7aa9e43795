"""Which kinds of thread join which roles. Pure functions over plain data;
who is whose patient, and what a practitioner accepts, is ``access``."""

from __future__ import annotations

from collections.abc import Mapping

from protocol.model import Role, ThreadKind
from protocol.practice import RefusalReason
from server.policy.refusal import Refusal

__all__ = ["CARE_ROLES", "member_in_role", "pair_key", "thread_open_refusal"]

CARE_ROLES = frozenset({Role.PRACTITIONER, Role.ASSISTANT})


def thread_open_refusal(kind: ThreadKind, opener: int, roles: Mapping[int, Role]) -> Refusal | None:
    """None if ``opener`` may open a ``kind`` thread with the users of ``roles``
    (which includes the opener), else why not."""
    others = [role for user, role in roles.items() if user != opener]
    mine = roles[opener]
    if not others:
        return _role("a thread needs at least one other member")
    if kind is ThreadKind.PATIENT_PRACTITIONER:
        if len(roles) != 2:
            return _role("a patient-practitioner thread has exactly two members")
        if sorted([mine, *others]) != sorted([Role.PATIENT, Role.PRACTITIONER]):
            return _role("a patient-practitioner thread joins one patient and one practitioner")
        return None
    if kind is ThreadKind.PRACTITIONER_PRACTITIONER:
        if len(roles) != 2 or {mine, *others} != {Role.PRACTITIONER}:
            return _role("a practitioner-practitioner thread joins two practitioners")
        return None
    # Care-team groups are convened by the care side; patients may be members.
    if mine not in CARE_ROLES:
        return _role("only practitioners and assistants open group threads")
    if Role.BOT in others and mine is not Role.PRACTITIONER:
        return _role("only a practitioner adds a bot to a thread")
    return None


def _role(text: str) -> Refusal:
    return Refusal(RefusalReason.ROLE, text)


def pair_key(kind: ThreadKind, members: set[int]) -> str | None:
    """The key that makes a practitioners' thread unique. Patient threads are
    one per request and groups are many: None."""
    if kind is not ThreadKind.PRACTITIONER_PRACTITIONER:
        return None
    low, high = sorted(members)
    return f"{kind.value}:{low}:{high}"


def member_in_role(members: Mapping[int, Role], role: Role) -> int:
    """The member who has ``role``: a patient-practitioner thread's
    practitioner, or its patient."""
    return next(user for user, has in members.items() if has is role)
