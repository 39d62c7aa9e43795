"""Delegation as pure functions, by tables: which scopes parse, who may be
named a delegate, through whom a delegate reaches a thread, and which
devices an envelope must be sealed for (``server.coverage``)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from protocol.e2e import Delegate, DeviceEntry, DeviceList, Scope, parse_scope
from protocol.model import Role
from protocol.practice import RefusalReason
from server.coverage import delegates_of, recipient_gaps
from server.policy import delegate_refusal, delegated_member

NOW = 1_700_000_000_000
LATER = NOW + 1
DOCTOR, OTHER_DOCTOR, ASSISTANT, PATIENT = 1, 2, 3, 4
R = RefusalReason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("read", {Scope.READ}),
        ("read.reply", {Scope.READ, Scope.REPLY}),
        ("agenda", {Scope.AGENDA}),
        ("agenda.read.reply.templates", set(Scope)),
        ("templates", {Scope.TEMPLATES}),
    ],
)
def test_scopes_that_parse(text: str, expected: set[Scope]) -> None:
    assert parse_scope(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("inbox", "unknown scope"),
        ("", "unknown scope"),
        ("read..reply", "unknown scope"),
        ("reply", "needs read"),
        ("reply.templates", "needs read"),
    ],
)
def test_scopes_that_do_not(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_scope(text)


@pytest.mark.parametrize(
    ("grant", "scope", "allowed"),
    [
        (Delegate(ASSISTANT, "read.reply", None), Scope.REPLY, True),
        (Delegate(ASSISTANT, "read.reply", LATER), Scope.READ, True),
        (Delegate(ASSISTANT, "read.reply", NOW), Scope.READ, False),  # expired at NOW
        (Delegate(ASSISTANT, "read", None), Scope.REPLY, False),
        (Delegate(ASSISTANT, "agenda", None), Scope.READ, False),
    ],
)
def test_a_grant_allows_its_scope_until_it_expires(
    grant: Delegate, scope: Scope, allowed: bool
) -> None:
    assert grant.allows(scope, NOW) is allowed


BOT = 5
COLLEAGUES = {
    DOCTOR: Role.PRACTITIONER,
    OTHER_DOCTOR: Role.PRACTITIONER,
    ASSISTANT: Role.ASSISTANT,
    BOT: Role.BOT,
    PATIENT: Role.PATIENT,
}


@pytest.mark.parametrize(
    ("case", "role", "grant", "expected"),
    [
        ("an assistant of the practice", Role.PRACTITIONER, Delegate(ASSISTANT, "read"), None),
        ("agenda only", Role.PRACTITIONER, Delegate(ASSISTANT, "agenda"), None),
        ("a bot of the practice", Role.PRACTITIONER, Delegate(BOT, "read.reply"), None),
        ("to a patient", Role.PRACTITIONER, Delegate(PATIENT, "read"), R.NOT_COLLEAGUE),
        ("a patient delegates", Role.PATIENT, Delegate(ASSISTANT, "read"), R.ROLE),
        ("an assistant delegates", Role.ASSISTANT, Delegate(ASSISTANT, "read"), R.ROLE),
        ("unknown word", Role.PRACTITIONER, Delegate(ASSISTANT, "inbox"), R.BAD_SCOPE),
        ("reply without read", Role.PRACTITIONER, Delegate(ASSISTANT, "reply"), R.BAD_SCOPE),
        ("to a colleague", Role.PRACTITIONER, Delegate(OTHER_DOCTOR, "read"), R.NOT_COLLEAGUE),
        ("outside the practice", Role.PRACTITIONER, Delegate(99, "read"), R.NOT_COLLEAGUE),
    ],
)
def test_delegate_refusal(
    case: str, role: Role, grant: Delegate, expected: RefusalReason | None
) -> None:
    refusal = delegate_refusal(role, grant, COLLEAGUES)
    assert (refusal.reason if refusal else None) is expected, case
    if refusal and refusal.reason is not R.ROLE:
        assert refusal.details == {"delegate": grant.user}


MEMBERS = {DOCTOR: Role.PRACTITIONER, PATIENT: Role.PATIENT}


@pytest.mark.parametrize(
    ("case", "grants", "scope", "acting_for", "expected"),
    [
        ("reads for the doctor", {DOCTOR: Delegate(ASSISTANT, "read")}, Scope.READ, None, DOCTOR),
        (
            "answers for the doctor",
            {DOCTOR: Delegate(ASSISTANT, "read.reply")},
            Scope.REPLY,
            DOCTOR,
            DOCTOR,
        ),
        ("no grant", {}, Scope.READ, None, None),
        ("scope too narrow", {DOCTOR: Delegate(ASSISTANT, "read")}, Scope.REPLY, None, None),
        ("expired", {DOCTOR: Delegate(ASSISTANT, "read", NOW)}, Scope.READ, None, None),
        (
            "the principal is not a member",
            {OTHER_DOCTOR: Delegate(ASSISTANT, "read")},
            Scope.READ,
            None,
            None,
        ),
        (
            "acting for someone else",
            {DOCTOR: Delegate(ASSISTANT, "read.reply"), OTHER_DOCTOR: Delegate(ASSISTANT, "read")},
            Scope.REPLY,
            OTHER_DOCTOR,
            None,
        ),
        (
            "a patient member is never a principal",
            {PATIENT: Delegate(ASSISTANT, "read")},
            Scope.READ,
            None,
            None,
        ),
    ],
)
def test_delegated_member(
    case: str,
    grants: dict[int, Delegate],
    scope: Scope,
    acting_for: int | None,
    expected: int | None,
) -> None:
    assert delegated_member(MEMBERS, grants, scope, NOW, acting_for) == expected, case


def device_list(user: int, devices: list[int], delegates: Sequence[Delegate] = ()) -> DeviceList:
    entries = [DeviceEntry(d, bytes(32), bytes(32), LATER) for d in devices]
    return DeviceList(user, 1, NOW, bytes(32), entries, list(delegates))


LISTS = {
    DOCTOR: device_list(DOCTOR, [11, 12], [Delegate(ASSISTANT, "read.reply")]),
    PATIENT: device_list(PATIENT, [41]),
    ASSISTANT: device_list(ASSISTANT, [31]),
    OTHER_DOCTOR: device_list(OTHER_DOCTOR, [21], [Delegate(ASSISTANT, "agenda")]),
}


@pytest.mark.parametrize(
    ("case", "members", "recipients", "expected"),
    [
        ("members and the reading delegate", [DOCTOR, PATIENT], [11, 12, 41, 31], {}),
        ("the delegate left out", [DOCTOR, PATIENT], [11, 12, 41], {"missing": [31]}),
        ("a member's device left out", [DOCTOR, PATIENT], [11, 41, 31], {"missing": [12]}),
        ("a stranger's device", [DOCTOR, PATIENT], [11, 12, 41, 31, 99], {"unknown": [99]}),
        ("an agenda-only delegate reads nothing", [OTHER_DOCTOR], [21, 31], {"unknown": [31]}),
        ("a member without keys", [PATIENT, 77], [41], {"no_keys": [77]}),
    ],
)
def test_recipient_gaps(
    case: str, members: list[int], recipients: list[int], expected: dict[str, list[int]]
) -> None:
    assert recipient_gaps(LISTS, members, recipients, NOW) == expected, case


def test_delegates_of_reads_only_current_reading_grants() -> None:
    lists = {
        DOCTOR: device_list(
            DOCTOR,
            [11],
            [Delegate(ASSISTANT, "read"), Delegate(5, "read", NOW), Delegate(6, "agenda")],
        )
    }
    assert delegates_of(lists, [DOCTOR, PATIENT], NOW) == {ASSISTANT}
