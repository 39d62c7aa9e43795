"""Who may write to whom, and how much: the patient-side rules.

Pure functions over what the server looked up; each returns None (allowed)
or the first ``Refusal`` in the order a patient can act on: is this
practitioner reachable at all, am I their patient, do they accept my
message, for this reason, and am I within the limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.practice import Accepting, InboxSettings, RefusalReason, Rule
from server.policy.refusal import Refusal

__all__ = [
    "DAY_MS",
    "PatientThread",
    "Practitioner",
    "patient_open_refusal",
    "patient_send_refusal",
    "practitioner_write_refusal",
]

DAY_MS = 24 * 3600 * 1000  # the daily message limit counts the last 24 hours


@dataclass(frozen=True, slots=True)
class Practitioner:
    """What the rules need to know of a practitioner."""

    id: int
    verified: bool
    inbox: InboxSettings
    rules: tuple[Rule, ...] = ()  # in evaluation order


@dataclass(frozen=True, slots=True)
class PatientThread:
    """A patient-practitioner thread's state, read in the sending transaction."""

    closed: bool
    reply_allowed: bool  # what the care side's latest message said


def _not_verified() -> Refusal:
    return Refusal(RefusalReason.NOT_VERIFIED, "this practitioner's account is not verified yet")


def patient_open_refusal(
    practitioner: Practitioner,
    patient: int,
    *,
    is_patient: bool,
    reason: str | None,
    open_threads: int,
) -> Refusal | None:
    """May ``patient`` open a new thread with ``practitioner`` for ``reason``?"""
    if not practitioner.verified:
        return _not_verified()
    if not is_patient:
        return Refusal(
            RefusalReason.NOT_A_PATIENT,
            "you can write to a practitioner once you are their patient"
            " (after an appointment, or when they add you)",
        )
    inbox = practitioner.inbox
    if inbox.accepting is Accepting.OFF or not inbox.reasons:
        return Refusal(
            RefusalReason.NOT_ACCEPTING, "this practitioner does not accept messages from patients"
        )
    if inbox.accepting is Accepting.LIST and patient not in inbox.accept_list:
        return Refusal(
            RefusalReason.NOT_ON_LIST,
            "this practitioner accepts messages from some of their patients only",
        )
    offered = [r.code for r in inbox.reasons]
    if reason is None:
        return Refusal(
            RefusalReason.REASON_REQUIRED, "choose why you are writing", {"offered": offered}
        )
    if reason not in offered:
        return Refusal(
            RefusalReason.REASON_NOT_OFFERED,
            "this practitioner does not take requests for this reason",
            {"offered": offered},
        )
    if open_threads >= inbox.max_open_threads:
        return Refusal(
            RefusalReason.OPEN_THREADS,
            f"you already have {open_threads} open requests with this practitioner:"
            " wait for an answer, or write in one of them",
            {"limit": inbox.max_open_threads},
        )
    return None


def patient_send_refusal(
    thread: PatientThread, inbox: InboxSettings, sent_last_day: int
) -> Refusal | None:
    """May the patient send one more message in ``thread``, having sent
    ``sent_last_day`` messages to this practitioner in the last 24 hours?"""
    if thread.closed:
        return Refusal(RefusalReason.THREAD_CLOSED, "this conversation is closed")
    if not thread.reply_allowed:
        return Refusal(
            RefusalReason.REPLY_NOT_ALLOWED, "the practitioner's last message does not take replies"
        )
    if sent_last_day >= inbox.max_daily_messages:
        return Refusal(
            RefusalReason.DAILY_MESSAGES,
            f"you have sent {sent_last_day} messages to this practitioner in the last 24 hours:"
            " try again later",
            {"limit": inbox.max_daily_messages},
        )
    return None


def practitioner_write_refusal(practitioner: Practitioner, is_patient: bool) -> Refusal | None:
    """May ``practitioner`` open a thread with this patient? Only with their own
    patients, once verified."""
    if not practitioner.verified:
        return _not_verified()
    if not is_patient:
        return Refusal(
            RefusalReason.NOT_A_PATIENT, "add this patient to your patients before writing to them"
        )
    return None
