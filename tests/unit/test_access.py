"""Who may write to whom, and how much: tables over server.policy.access
(each allow and each refusal) and rule_refusal."""

from __future__ import annotations

from typing import Any

import pytest

from protocol.practice import (
    Accepting,
    InboxSettings,
    RefusalReason,
    RequestReason,
    Rule,
    RuleAction,
)
from server.policy import (
    Firing,
    PatientThread,
    Practitioner,
    patient_open_refusal,
    patient_send_refusal,
    practitioner_write_refusal,
    rule_refusal,
)

R = RefusalReason
PATIENT = 7
REASONS = [RequestReason("renewal", "Prescription renewal", 72), RequestReason("forms", "Forms")]


def doctor(verified: bool = True, **inbox: Any) -> Practitioner:
    return Practitioner(1, verified, InboxSettings(**{"reasons": REASONS, **inbox}))


# (case, practitioner, is_patient, reason, open_threads, expected refusal)
OPEN_CASES = [
    ("allowed", doctor(), True, "renewal", 0, None),
    ("allowed below the limit", doctor(max_open_threads=3), True, "forms", 2, None),
    ("not verified", doctor(verified=False), True, "renewal", 0, R.NOT_VERIFIED),
    ("not verified comes first", doctor(verified=False), False, None, 9, R.NOT_VERIFIED),
    ("not a patient", doctor(), False, "renewal", 0, R.NOT_A_PATIENT),
    ("off", doctor(accepting=Accepting.OFF), True, "renewal", 0, R.NOT_ACCEPTING),
    ("no reason offered at all", doctor(reasons=[]), True, "renewal", 0, R.NOT_ACCEPTING),
    ("list, not on it", doctor(accepting=Accepting.LIST), True, "renewal", 0, R.NOT_ON_LIST),
    (
        "list, on it",
        doctor(accepting=Accepting.LIST, accept_list=[PATIENT]),
        True,
        "renewal",
        0,
        None,
    ),
    ("no reason", doctor(), True, None, 0, R.REASON_REQUIRED),
    ("a reason not offered", doctor(), True, "sick_note", 0, R.REASON_NOT_OFFERED),
    ("at the limit", doctor(max_open_threads=3), True, "renewal", 3, R.OPEN_THREADS),
    ("over the limit", doctor(max_open_threads=1), True, "renewal", 5, R.OPEN_THREADS),
]


@pytest.mark.parametrize(
    ("practitioner", "is_patient", "reason", "open_threads", "expected"),
    [case[1:] for case in OPEN_CASES],
    ids=[case[0] for case in OPEN_CASES],
)
def test_patient_open_refusal(
    practitioner: Practitioner,
    is_patient: bool,
    reason: str | None,
    open_threads: int,
    expected: RefusalReason | None,
) -> None:
    refusal = patient_open_refusal(
        practitioner, PATIENT, is_patient=is_patient, reason=reason, open_threads=open_threads
    )
    assert (refusal.reason if refusal else None) is expected
    if refusal:
        assert refusal.text.strip()
        assert refusal.error().details["reason"] == expected


def test_refusals_carry_what_a_client_can_act_on() -> None:
    missing = patient_open_refusal(doctor(), PATIENT, is_patient=True, reason=None, open_threads=0)
    assert missing is not None and missing.details == {"offered": ["renewal", "forms"]}
    full = patient_open_refusal(
        doctor(max_open_threads=2), PATIENT, is_patient=True, reason="forms", open_threads=2
    )
    assert full is not None and full.details == {"limit": 2}


OPEN, CLOSED = PatientThread(closed=False, reply_allowed=True), PatientThread(True, True)
NO_REPLY = PatientThread(closed=False, reply_allowed=False)

# (case, thread, daily limit, sent in the last 24 h, expected refusal)
SEND_CASES = [
    ("allowed", OPEN, 20, 0, None),
    ("one below the limit", OPEN, 20, 19, None),
    ("closed", CLOSED, 20, 0, R.THREAD_CLOSED),
    ("closed comes first", PatientThread(True, False), 1, 5, R.THREAD_CLOSED),
    ("no reply allowed", NO_REPLY, 20, 0, R.REPLY_NOT_ALLOWED),
    ("at the daily limit", OPEN, 20, 20, R.DAILY_MESSAGES),
    ("over the daily limit", OPEN, 2, 7, R.DAILY_MESSAGES),
]


@pytest.mark.parametrize(
    ("thread", "limit", "sent", "expected"),
    [case[1:] for case in SEND_CASES],
    ids=[case[0] for case in SEND_CASES],
)
def test_patient_send_refusal(
    thread: PatientThread, limit: int, sent: int, expected: RefusalReason | None
) -> None:
    refusal = patient_send_refusal(thread, InboxSettings(max_daily_messages=limit), sent)
    assert (refusal.reason if refusal else None) is expected
    if refusal is not None and expected is R.DAILY_MESSAGES:
        assert refusal.details == {"limit": limit}


@pytest.mark.parametrize(
    ("verified", "is_patient", "expected"),
    [
        (True, True, None),
        (False, True, R.NOT_VERIFIED),
        (True, False, R.NOT_A_PATIENT),
        (False, False, R.NOT_VERIFIED),
    ],
)
def test_practitioner_write_refusal(
    verified: bool, is_patient: bool, expected: RefusalReason | None
) -> None:
    refusal = practitioner_write_refusal(doctor(verified), is_patient)
    assert (refusal.reason if refusal else None) is expected


def rule(action: RuleAction, **fields: Any) -> Rule:
    return Rule(id=4, name="Holidays", text="Back on Monday.", action=action, **fields)


@pytest.mark.parametrize(
    ("firing", "expected"),
    [
        (None, None),
        (Firing(rule(RuleAction.AUTO_REPLY), 0, None), None),
        (Firing(rule(RuleAction.REFUSE), 0, None), {"rule": 4}),
        (Firing(rule(RuleAction.REFUSE), 0, 99), {"rule": 4, "until": 99}),
        (
            Firing(rule(RuleAction.REFUSE, redirect_to=12), 5, 99),
            {"rule": 4, "until": 99, "redirect_to": 12},
        ),
    ],
    ids=["no rule", "auto-reply accepts", "refuse", "refuse until", "refuse, see a colleague"],
)
def test_rule_refusal(firing: Firing | None, expected: dict[str, int] | None) -> None:
    refusal = rule_refusal(firing)
    if expected is None:
        assert refusal is None
    else:
        assert refusal is not None and refusal.reason is R.UNAVAILABLE
        assert (refusal.text, refusal.details) == ("Back on Monday.", expected)
