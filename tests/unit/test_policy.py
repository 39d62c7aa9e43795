"""Which kinds of thread join which roles: a table over server.policy.threads."""

from __future__ import annotations

import pytest

from protocol.model import Role, ThreadKind
from protocol.practice import RefusalReason
from server.policy import Refusal, pair_key, thread_open_refusal

PAT, PRA, ASS, BOT, ADM = Role.PATIENT, Role.PRACTITIONER, Role.ASSISTANT, Role.BOT, Role.ADMIN
PP = ThreadKind.PATIENT_PRACTITIONER
DOCS = ThreadKind.PRACTITIONER_PRACTITIONER
GROUP = ThreadKind.GROUP

# (kind, opener's role, other members' roles, allowed)
CASES = [
    (PP, PAT, [PRA], True),
    (PP, PRA, [PAT], True),
    (PP, PAT, [PAT], False),
    (PP, PRA, [PRA], False),
    (PP, ASS, [PAT], False),
    (PP, PAT, [BOT], False),
    (PP, PAT, [PRA, PRA], False),
    (PP, PRA, [PAT, PAT], False),
    (DOCS, PRA, [PRA], True),
    (DOCS, PRA, [PAT], False),
    (DOCS, PAT, [PRA], False),
    (DOCS, ASS, [PRA], False),
    (DOCS, PRA, [PRA, PRA], False),
    (GROUP, PRA, [PRA, PAT], True),
    (GROUP, PRA, [PAT], True),
    (GROUP, PRA, [ASS, BOT], True),
    (GROUP, ASS, [PRA, PAT], True),
    (GROUP, PAT, [PRA, PRA], False),
    (GROUP, PAT, [PRA], False),
    (GROUP, BOT, [PRA], False),
    (GROUP, ASS, [PRA, BOT], False),
    (GROUP, ASS, [BOT], False),
    (PP, PAT, [], False),
    (DOCS, PRA, [], False),
    (GROUP, PRA, [], False),
]


@pytest.mark.parametrize(("kind", "mine", "others", "allowed"), CASES)
def test_thread_open_refusal(
    kind: ThreadKind, mine: Role, others: list[Role], allowed: bool
) -> None:
    opener = 10
    roles = {opener: mine, **{20 + i: role for i, role in enumerate(others)}}
    refusal = thread_open_refusal(kind, opener, roles)
    if allowed:
        assert refusal is None
    else:
        assert isinstance(refusal, Refusal)
        assert refusal.reason is RefusalReason.ROLE and refusal.text.strip()


def test_opener_id_is_not_positional() -> None:
    # The opener may be any key of the mapping, not just the first one.
    roles = {1: PRA, 2: PAT}
    assert thread_open_refusal(PP, 2, roles) is None
    assert thread_open_refusal(GROUP, 2, {**roles, 3: PRA}) is not None
    assert thread_open_refusal(GROUP, 1, {**roles, 3: PRA}) is None


def test_admin_does_not_open_groups() -> None:
    assert thread_open_refusal(GROUP, 1, {1: ADM, 2: PRA}) is not None


@pytest.mark.parametrize(
    ("kind", "members", "expected"),
    [
        (PP, {3, 1}, None),  # one thread per request
        (DOCS, {20, 100}, "practitioner_practitioner:20:100"),
        (DOCS, {100, 20}, "practitioner_practitioner:20:100"),
        (GROUP, {1, 2}, None),
        (GROUP, {1, 2, 3}, None),
    ],
)
def test_pair_key(kind: ThreadKind, members: set[int], expected: str | None) -> None:
    assert pair_key(kind, members) == expected


def test_pair_key_sorts_numerically() -> None:
    assert pair_key(DOCS, {9, 10}) == "practitioner_practitioner:9:10"
