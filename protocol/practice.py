"""The practice's vocabulary: inbox settings, request reasons, rules,
templates, notices, audit entries, and why a request was refused.

Plain structures; the rules themselves are pure functions in ``server.policy``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from protocol.e2e import Scope
from protocol.errors import DecodeError
from protocol.model import NO_NUL, BirthDate, Empty, Id, Member, Ms, Natural, Role
from protocol.texts import DEFAULT_LOCALE, Locale, render

__all__ = [
    "DEFAULT_REASON_HOURS",
    "INAPPROPRIATE_REQUEST",
    "PRACTICE_METHODS",
    "Accepting",
    "AccountVerified",
    "AuditEntry",
    "AuditParams",
    "AuditResult",
    "BroadcastParams",
    "BroadcastResult",
    "BroadcastSkip",
    "BroadcastThread",
    "CareInvitation",
    "CareInvitationsResult",
    "CareParams",
    "CareStatus",
    "Code",
    "Delegation",
    "DelegationsResult",
    "InboxSettings",
    "MessageParams",
    "Notice",
    "NoticeKind",
    "PatientAddResult",
    "PatientFindParams",
    "PatientInfo",
    "PatientsFoundResult",
    "PatientsListResult",
    "PracticeCreateParams",
    "PracticeInfo",
    "PracticeInvitation",
    "PracticeMemberParams",
    "PracticeParams",
    "PracticesListResult",
    "PractitionerInfo",
    "PractitionerParams",
    "PractitionerSearchParams",
    "PractitionersResult",
    "ProfessionalInfo",
    "ProfessionalsParams",
    "ProfessionalsResult",
    "RefusalReason",
    "RelativeIdParams",
    "RelativeInfo",
    "RelativeParams",
    "RelativesResult",
    "RequestReason",
    "Rule",
    "RuleAction",
    "RuleParams",
    "RulesResult",
    "Template",
    "TemplateParams",
    "TemplatesResult",
    "UserParams",
    "UserProfile",
    "UsersParams",
    "UsersResult",
    "VerifyParams",
    "WeeklySpan",
    "builtin_template",
    "decode_notice",
    "default_reasons",
]

Code = Annotated[str, Meta(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]
Text = Annotated[str, Meta(min_length=1, max_length=2000), NO_NUL]
Label = Annotated[str, Meta(min_length=1, max_length=120), NO_NUL]
Clock = Annotated[str, Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")]


class RefusalReason(StrEnum):
    """Why the practice's rules refused a request: ``details.reason`` of a
    ``forbidden`` or ``limit_reached`` error. Clients show ``message``."""

    NOT_VERIFIED = "not_verified"  # the practitioner's account is not verified yet
    NOT_A_PATIENT = "not_a_patient"  # no appointment, not added by the practitioner
    NOT_ACCEPTING = "not_accepting"  # patient-initiated messages are off
    NOT_ON_LIST = "not_on_list"  # accepted for a chosen list of patients only
    REASON_REQUIRED = "reason_required"
    REASON_NOT_OFFERED = "reason_not_offered"
    THREAD_CLOSED = "thread_closed"
    REPLY_NOT_ALLOWED = "reply_not_allowed"  # the practitioner's last message allows no reply
    OPEN_THREADS = "open_threads"  # too many open threads with this practitioner
    DAILY_MESSAGES = "daily_messages"  # too many messages today
    UNAVAILABLE = "unavailable"  # a rule refuses new patient messages (``text``, ``redirect_to``)
    NOT_MANAGED = "not_managed"  # a thread for a relative the caller does not manage
    NOT_DELEGATED = "not_delegated"  # no delegation with this scope (or it expired)
    NOT_COLLEAGUE = "not_colleague"  # a delegate must be an assistant of a shared practice
    BAD_SCOPE = "bad_scope"  # a delegation's scope is not ``protocol.e2e.Scope`` words
    NOT_CARE_TEAM = "not_care_team"  # only the thread's practitioners (or their assistants)
    OPTED_OUT = "opted_out"
    ROLE = "role"  # the caller's or a member's role does not allow it
    RPPS_UNKNOWN = "rpps_unknown"  # no such number in the imported directory
    RPPS_MISMATCH = "rpps_mismatch"  # the directory names someone else (``directory_name``)
    RPPS_REQUIRED = "rpps_required"  # this deployment verifies against the directory only
    RPPS_TAKEN = "rpps_taken"  # the number verifies another account already


class Accepting(StrEnum):
    """Whether patients may open threads with the practitioner."""

    OFF = "off"
    PATIENTS = "patients"  # any patient of the practitioner
    LIST = "list"  # patients on ``InboxSettings.accept_list`` only


class RequestReason(Struct, omit_defaults=True):
    """Why a patient writes: shown to the patient before they open a thread."""

    code: Code
    label: Label
    response_hours: Annotated[int, Meta(ge=1, le=24 * 60)] | None = None


DEFAULT_REASON_HOURS = {
    "prescription_renewal": 72,
    "exam_results": 72,
    "admin_document": 120,
    "after_visit": 48,
}


def default_reasons(locale: str = DEFAULT_LOCALE) -> list[RequestReason]:
    """The request reasons a practitioner offers until they choose, labelled
    in their language."""
    return [
        RequestReason(code, render(locale, f"reason.{code}"), hours)
        for code, hours in DEFAULT_REASON_HOURS.items()
    ]


class InboxSettings(Struct, omit_defaults=True):
    """A practitioner's messaging settings (``inbox.get``, ``inbox.set``).
    Until they set them: their patients may write, for the default reasons."""

    accepting: Accepting = Accepting.PATIENTS
    accept_list: Annotated[list[Id], Meta(max_length=10_000)] = []
    reasons: Annotated[list[RequestReason], Meta(max_length=32)] = msgspec.field(
        default_factory=default_reasons
    )
    max_open_threads: Annotated[int, Meta(ge=1, le=100)] = 3  # per patient
    max_daily_messages: Annotated[int, Meta(ge=1, le=100_000)] = 20  # per patient, 24 h


class RuleAction(StrEnum):
    AUTO_REPLY = "auto_reply"  # accept, and answer once per thread per window
    REFUSE = "refuse"  # refuse new patient messages with the rule's text


class WeeklySpan(Struct, array_like=True):
    """``day`` 0 (Monday) to 6, from ``start`` to ``end`` local time; an
    ``end`` at or before ``start`` runs past midnight into the next day."""

    day: Annotated[int, Meta(ge=0, le=6)]
    start: Clock
    end: Clock


class Rule(Struct, omit_defaults=True, kw_only=True):
    """A vacation or auto-reply rule. Active between ``starts`` and ``ends``
    (ms, either may be open) and, if ``weekly`` is given, only during those
    spans in ``timezone``. Rules are evaluated by ``position``; the first
    active one that does not exempt the patient wins."""

    id: Natural = 0
    position: Annotated[int, Meta(ge=0, le=1_000_000)] = 0  # an index, stored as a 32-bit int
    name: Label
    text: Text
    action: RuleAction = RuleAction.AUTO_REPLY
    starts: Ms | None = None
    ends: Ms | None = None
    weekly: Annotated[list[WeeklySpan], Meta(max_length=64)] = []
    timezone: Annotated[str, Meta(min_length=1, max_length=64), NO_NUL] = "UTC"
    exempt: Annotated[list[Id], Meta(max_length=10_000)] = []
    redirect_to: Id | None = None  # a colleague to point to
    emergency_notice: bool = False  # repeat the "not an emergency service" notice
    enabled: bool = True


class NoticeKind(StrEnum):
    EMERGENCY = "emergency"  # "not an emergency service: call 15 or 112"
    AUTO_REPLY = "auto_reply"  # a rule answered, not the practitioner
    CLOSED = "closed"
    REOPENED = "reopened"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"
    RETRACTED = "retracted"


class Notice(Struct, omit_defaults=True):
    """A server-written entry in a thread: never a practitioner's own words.
    Carried by a ``message.new`` whose ``kind`` is ``notice`` (cleartext: it
    holds configured texts and ids, never a patient's words). A client shows
    it in the reader's language from ``notice.<kind>`` (``protocol.texts``)."""

    kind: NoticeKind
    text: str = ""  # an auto-reply's rule text, the practitioner's own words
    by: int | None = None  # who acted (closed, added, retracted)
    user: int | None = None  # the member added or removed
    rule: int | None = None
    redirect_to: int | None = None
    message: int | None = None  # the retracted message
    acting_for: int | None = None  # ``by`` acted for this practitioner (a delegate)


_NOTICE = msgspec.msgpack.Decoder(Notice)


def decode_notice(data: bytes) -> Notice:
    """The ``Notice`` in a ``message.new`` of kind ``notice``."""
    try:
        return _NOTICE.decode(data)
    except msgspec.DecodeError as exc:
        raise DecodeError(f"not a notice: {exc}") from None


class Template(Struct, omit_defaults=True, kw_only=True):
    """A reply template with ``{variables}`` the sending client fills in
    (``protocol.templates``). ``practice`` set: shared with the practice."""

    id: Natural = 0
    name: Label
    text: Text
    practice: Id | None = None
    owner: Id | None = None  # a practitioner's own; an assistant names whose (``templates`` scope)
    reply_allowed: bool = True
    closes_thread: bool = False  # sending it also closes the thread
    builtin: bool = False  # every practitioner has it; it cannot be changed
    code: Code | None = None  # a built-in one's: its texts are ``template.<code>.*``


INAPPROPRIATE_REQUEST = "inappropriate_request"


def builtin_template(code: str, locale: str = DEFAULT_LOCALE) -> Template:
    """A template every practitioner has, worded in ``locale``: the
    "inappropriate request" answer takes no reply and closes the thread."""
    return Template(
        name=render(locale, f"template.{code}.name"),
        text=render(locale, f"template.{code}.text"),
        reply_allowed=False,
        closes_thread=True,
        builtin=True,
        code=code,
    )


class AuditParams(Struct):
    thread: Id
    after: Natural = 0  # the last entry id already read
    limit: Annotated[int, Meta(ge=1, le=500)] = 200


class AuditResult(Struct):
    entries: list[AuditEntry]
    has_more: bool


class MessageParams(Struct):
    message: Id


class BroadcastParams(Struct, omit_defaults=True):
    """A message to each of ``patients``, in a thread of its own, no reply
    allowed: this creates the threads; the client seals and sends into each."""

    patients: Annotated[list[Id], Meta(min_length=1, max_length=1000)]
    reason: Code | None = None  # e.g. a campaign: "flu_vaccine"


class BroadcastThread(Struct):
    patient: int
    thread: int  # their new thread


class BroadcastSkip(Struct):
    patient: int
    reason: RefusalReason  # not_a_patient, opted_out


class BroadcastResult(Struct):
    threads: list[BroadcastThread]
    skipped: list[BroadcastSkip]


class RelativeParams(Struct):
    """A relative's profile the caller (a patient) will manage."""

    name: Label
    relation: Code  # "child", "parent", ...
    consent: Annotated[str, Meta(min_length=1, max_length=500), NO_NUL]  # what they agreed to
    birth_date: BirthDate | None = None  # how the relative's practitioners find them


class RelativeInfo(Struct, omit_defaults=True):
    user: int  # the relative's patient id: threads and appointments can be for them
    name: str
    relation: str
    consent: str
    consent_at: int
    birth_date: str | None = None


class RelativesResult(Struct):
    relatives: list[RelativeInfo]


class RelativeIdParams(Struct):
    """The relative whose profile the caller stops managing (their consent withdrawn)."""

    relative: Id


class TemplateParams(Struct):
    template: Id


class TemplatesResult(Struct):
    templates: list[Template]


class AuditEntry(Struct, omit_defaults=True):
    """One line of a thread's append-only trail. ``action``: opened, sent,
    read, closed, reopened, member_added, member_removed, auto_reply (a rule
    fired), retracted, filed (a records device filed into the record),
    expired (the chat retention emptied messages)."""

    id: int
    thread: int
    at: int
    action: str
    actor: int | None = None
    acting_for: int | None = None
    thread_seq: int | None = None  # the message concerned
    user: int | None = None  # the member added or removed, the reader
    rule: int | None = None
    detail: str = ""


class AccountVerified(Struct):
    """Event ``account.verified``: an admin verified the practitioner ``user``."""

    user: int
    at: int


class UserParams(Struct):
    user: Id


class VerifyParams(Struct):
    """``admin.verify``: the practitioner, and their number in the directory
    of health professionals (RPPS, 11 digits; ADELI, 9), checked against it."""

    user: Id
    rpps: Annotated[str, Meta(pattern=r"^[0-9]{9,11}$")] | None = None


class ProfessionalsParams(Struct):
    """``admin.professionals``: the directory's professionals whose number
    starts with ``text`` or whose name contains it."""

    text: Annotated[str, Meta(min_length=2, max_length=64), NO_NUL]
    limit: Annotated[int, Meta(ge=1, le=100)] = 20


class ProfessionalInfo(Struct, omit_defaults=True):
    rpps: str
    last_name: str
    first_name: str
    profession: str
    specialty: str = ""
    account: int | None = None  # the account verified with this number, if any


class ProfessionalsResult(Struct):
    professionals: list[ProfessionalInfo]


class PracticeCreateParams(Struct):
    name: Label
    locale: Locale = DEFAULT_LOCALE  # what its bots write in


class PracticeMemberParams(Struct):
    practice: Id
    user: Id


class PracticeParams(Struct):
    practice: Id


class PracticeInfo(Struct):
    """Event ``practice.updated`` too, to its members and to whoever just
    joined, declined, left or was removed."""

    id: int
    name: str
    created_by: int
    members: list[Member]
    invited: list[Member] = []  # asked to join, not yet members
    locale: Locale = DEFAULT_LOCALE


class PracticeInvitation(Struct):
    """Event ``practice.invited`` too: ``invited_by`` asks the caller to join
    ``practice``; ``practices.accept`` or ``practices.decline`` answers."""

    practice: int
    name: str
    invited_by: Member
    at: int


class PracticesListResult(Struct):
    practices: list[PracticeInfo]
    invitations: list[PracticeInvitation] = []  # the caller's, unanswered


class PractitionerSearchParams(Struct):
    text: Annotated[str, Meta(min_length=2, max_length=64), NO_NUL]
    limit: Annotated[int, Meta(ge=1, le=50)] = 20


class PractitionerParams(Struct):
    practitioner: Id


class PractitionerInfo(Struct, omit_defaults=True):
    """A verified practitioner as a patient sees them. ``profession`` and
    ``specialty`` are the directory's (RPPS, in French) when an admin
    verified them with their number. ``refusal`` (with ``refusal_text`` and
    ``refusal_details``) says why the caller could not open a thread with
    them now; absent, they can."""

    id: int
    name: str
    accepting: Accepting
    reasons: list[RequestReason]
    profession: str = ""  # "Médecin"
    specialty: str = ""  # "Médecine générale"
    emergency_notice: str = ""  # ``notice.emergency`` in the caller's language
    refusal: RefusalReason | None = None
    refusal_text: str | None = None
    refusal_details: dict[str, Any] = {}
    campaigns_opted_out: bool = False  # the calling patient declined their broadcasts


class UsersParams(Struct):
    users: Annotated[list[Id], Meta(min_length=1, max_length=256)]


class UserProfile(Struct, omit_defaults=True):
    """How someone shows in a conversation: a name, a role (``bot`` marks a
    bot), and for an assistant or a bot, the practitioners they answer for
    ("Camille for Dr Martin")."""

    user: int
    name: str
    role: Role
    acting_for: list[int] = []


class UsersResult(Struct):
    users: list[UserProfile]  # those out of the caller's sight are left out


class PractitionersResult(Struct):
    practitioners: list[PractitionerInfo]


class RuleParams(Struct):
    rule: Id


class RulesResult(Struct):
    """Event ``rules.updated`` too: the practitioner's rules, in order."""

    rules: list[Rule]


class PatientInfo(Struct):
    """Event ``patient.added`` too, to the practitioner a patient accepted."""

    user: int
    name: str
    source: str  # "added" by the practitioner (and accepted), or "appointment"
    since: int


class PatientFindParams(Struct):
    """``patients.find``: the caller's patients (added, or by an appointment)
    whose name contains ``name`` (any case, any accents) and who were born
    on ``birth_date``: two people of one name are told apart, and nobody
    else's patient is found."""

    name: Annotated[str, Meta(min_length=2, max_length=128), NO_NUL]
    birth_date: BirthDate


class PatientsFoundResult(Struct):
    patients: list[PatientInfo]


class PatientsListResult(Struct):
    patients: list[PatientInfo]
    invited: list[int] = []  # asked, not answered yet: no name until they accept


class CareStatus(StrEnum):
    INVITED = "invited"  # asked: their patient once they accept
    PATIENT = "patient"  # already their patient


class PatientAddResult(Struct):
    status: CareStatus


class CareParams(Struct, omit_defaults=True):
    practitioner: Id
    patient: Id | None = None  # a relative whose profile the caller manages


class CareInvitation(Struct):
    """Event ``care.invited`` too: ``practitioner`` asks ``patient`` (the
    caller, or a relative they manage) to be their patient;
    ``care.accept`` or ``care.decline`` answers."""

    practitioner: Member
    patient: int
    at: int


class CareInvitationsResult(Struct):
    invitations: list[CareInvitation]


class Delegation(Struct, omit_defaults=True):
    """A practitioner's signed delegation to an assistant, as the server
    enforces it. In a ``delegation.updated`` event, ``revoked`` ends it."""

    principal: int
    delegate: int
    scope: list[Scope]
    expires: int | None = None
    revoked: bool = False


class DelegationsResult(Struct):
    given: list[Delegation]  # by the caller (a practitioner)
    received: list[Delegation]  # to the caller (an assistant): the inboxes they work


# Method name -> (params, result); ``protocol.methods.METHODS`` includes them.
PRACTICE_METHODS: dict[str, tuple[type[Struct], type[Struct]]] = {
    "admin.verify": (VerifyParams, Empty),
    "admin.professionals": (ProfessionalsParams, ProfessionalsResult),
    "practices.create": (PracticeCreateParams, PracticeInfo),
    "practices.list": (Empty, PracticesListResult),
    "practices.invite": (PracticeMemberParams, PracticeInfo),
    "practices.accept": (PracticeParams, PracticeInfo),
    "practices.decline": (PracticeParams, Empty),
    "practices.leave": (PracticeParams, Empty),
    "practices.remove_member": (PracticeMemberParams, PracticeInfo),
    "practitioners.search": (PractitionerSearchParams, PractitionersResult),
    "practitioners.get": (PractitionerParams, PractitionerInfo),
    "patients.add": (UserParams, PatientAddResult),
    "care.invitations": (Empty, CareInvitationsResult),
    "care.accept": (CareParams, Empty),
    "care.decline": (CareParams, Empty),
    "patients.list": (Empty, PatientsListResult),
    "patients.find": (PatientFindParams, PatientsFoundResult),
    "inbox.get": (Empty, InboxSettings),
    "inbox.set": (InboxSettings, InboxSettings),
    "rules.list": (Empty, RulesResult),
    "rules.add": (Rule, Rule),
    "rules.update": (Rule, Rule),
    "rules.delete": (RuleParams, Empty),
    "templates.list": (Empty, TemplatesResult),
    "templates.create": (Template, Template),
    "templates.update": (Template, Template),
    "templates.delete": (TemplateParams, Empty),
    "audit.list": (AuditParams, AuditResult),
    "messages.retract": (MessageParams, Empty),
    "broadcasts.create": (BroadcastParams, BroadcastResult),
    "broadcasts.opt_out": (PractitionerParams, Empty),
    "broadcasts.opt_in": (PractitionerParams, Empty),
    "relatives.add": (RelativeParams, RelativeInfo),
    "relatives.list": (Empty, RelativesResult),
    "relatives.withdraw": (RelativeIdParams, Empty),
    "delegations.list": (Empty, DelegationsResult),
    "users.get": (UsersParams, UsersResult),
}
