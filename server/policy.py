"""Who may open which thread with whom. Pure functions over plain data.

The healthcare rules (patient-of relationships, request reasons, vacations)
extend these; for now a thread is about its kind and its members' roles.
"""

from __future__ import annotations

from collections.abc import Mapping

from protocol.model import Role, ThreadKind

__all__ = ["Refusal", "pair_key", "thread_open_refusal"]

CARE_ROLES = frozenset({Role.PRACTITIONER, Role.ASSISTANT})


class Refusal(str):
    """Why a request is refused, in words a client can show."""


def thread_open_refusal(kind: ThreadKind, opener: int, roles: Mapping[int, Role]) -> Refusal | None:
    """None if ``opener`` may open a ``kind`` thread with the users of ``roles``
    (which includes the opener), else why not."""
    others = [role for user, role in roles.items() if user != opener]
    mine = roles[opener]
    if not others:
        return Refusal("a thread needs at least one other member")
    if kind is ThreadKind.PATIENT_PRACTITIONER:
        if len(roles) != 2:
            return Refusal("a patient-practitioner thread has exactly two members")
        if sorted([mine, *others]) != sorted([Role.PATIENT, Role.PRACTITIONER]):
            return Refusal("a patient-practitioner thread joins one patient and one practitioner")
        return None
    if kind is ThreadKind.PRACTITIONER_PRACTITIONER:
        if len(roles) != 2 or {mine, *others} != {Role.PRACTITIONER}:
            return Refusal("a practitioner-practitioner thread joins two practitioners")
        return None
    # Care-team groups are convened by the care side; patients may be members.
    if mine not in CARE_ROLES:
        return Refusal("only practitioners and assistants open group threads")
    if Role.BOT in others and mine is not Role.PRACTITIONER:
        return Refusal("only a practitioner adds a bot to a thread")
    return None


def pair_key(kind: ThreadKind, members: set[int]) -> str | None:
    """The key that makes a two-person thread unique, None for groups."""
    if kind is ThreadKind.GROUP:
        return None
    low, high = sorted(members)
    return f"{kind.value}:{low}:{high}"
