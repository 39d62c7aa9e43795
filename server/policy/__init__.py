"""The practice's rules as pure functions: which threads join whom
(``threads``), who may write to whom and how much (``access``), who may
act for whom (``delegation``), and vacation and auto-reply rules (``rules``)."""

from server.policy.access import (
    DAY_MS,
    PatientThread,
    Practitioner,
    patient_open_refusal,
    patient_send_refusal,
    practitioner_write_refusal,
)
from server.policy.delegation import DELEGATE_ROLES, delegate_refusal, delegated_member
from server.policy.refusal import Refusal
from server.policy.rules import Firing, active_rule, rule_problems, rule_refusal
from server.policy.threads import CARE_ROLES, member_in_role, pair_key, thread_open_refusal

__all__ = [
    "CARE_ROLES",
    "DAY_MS",
    "DELEGATE_ROLES",
    "Firing",
    "PatientThread",
    "Practitioner",
    "Refusal",
    "active_rule",
    "delegate_refusal",
    "delegated_member",
    "member_in_role",
    "pair_key",
    "patient_open_refusal",
    "patient_send_refusal",
    "practitioner_write_refusal",
    "rule_problems",
    "rule_refusal",
    "thread_open_refusal",
]
