"""The authorization matrix: every method of the protocol, called by each
kind of outsider on the objects of a world that is not theirs
(``tests.support.authz``: U, an unverified practitioner; V, a verified
practitioner unrelated to A and PA; Q, a patient of nobody; R, an assistant
whose delegation A revoked).

A probe aims a call at the victim's objects and expects a typed refusal
that changes no row of any table and names none of the victim's data. A
method that acts on the caller's own data only is ``self_only``: it may
answer (or refuse), but its answer carries none of the victim's data and it
changes only its caller's rows. A method of ``protocol.methods.METHODS``
without a probe is a failing case of the matrix: no new method skips it.

The world is built once for the module on a SQLite server whose file the
tests read directly (read-only; in WAL mode every committed write is
visible). Probes share one outsider of each kind; one that the server
wrongly let do something is replaced, and a probe that ties its outsider
to A on purpose has one of its own.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from clients import CallError, Client, Credentials
from protocol.account import (
    AccountAuditParams,
    AdminUsersParams,
    DeleteParams,
    EmailParams,
    PasswordParams,
    SessionParams,
)
from protocol.booking import (
    AgendaDayParams,
    AgendaParams,
    AppointmentParams,
    CancelParams,
    ConfirmParams,
    ExceptionIdParams,
    ExceptionKind,
    ExceptionParams,
    HoldParams,
    RescheduleParams,
    SlotsParams,
)
from protocol.e2e import Delegate, DeviceEntry
from protocol.errors import ErrorCode
from protocol.methods import (
    METHODS,
    AccountParams,
    AttachmentBeginParams,
    AttachmentChunkParams,
    AttachmentFileParams,
    AttachmentReadParams,
    HistoryParams,
    KeysFetchParams,
    KeysPublishParams,
    KeysSenderKeyParams,
    PresenceSetParams,
    ReceiptParams,
    SendParams,
    ThreadMemberParams,
    ThreadParams,
    ThreadsOpenParams,
    TypingParams,
)
from protocol.model import Empty, PresenceStatus, ThreadKind
from protocol.practice import (
    AuditParams,
    BroadcastParams,
    CareParams,
    InboxSettings,
    MessageParams,
    PatientFindParams,
    PracticeCreateParams,
    PracticeMemberParams,
    PracticeParams,
    PractitionerParams,
    PractitionerSearchParams,
    ProfessionalsParams,
    RelativeIdParams,
    RelativeParams,
    Rule,
    RuleParams,
    Template,
    TemplateParams,
    UserParams,
    UsersParams,
    VerifyParams,
)
from protocol.push import (
    MobilePlatform,
    MuteParams,
    NotifyPreferences,
    PushRegisterParams,
    PushSubscribeParams,
)
from protocol.records import FiledParams, FilingsParams
from protocol.texts import Locale
from tests.support.authz import (
    AGENDA,
    DAY,
    HOUR,
    NAMES,
    OUTSIDERS,
    PA_BORN,
    Change,
    World,
    build_world,
    changes,
    leaks,
)
from tests.support.server import start_server

GROUP = ThreadKind.GROUP
PP = ThreadKind.PATIENT_PRACTITIONER
PAIR = ThreadKind.PRACTITIONER_PRACTITIONER
# The refusals an outsider may get; never ``internal`` or ``unavailable``.
TYPED = {ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND, ErrorCode.INVALID, ErrorCode.CONFLICT}
PARIS = ZoneInfo("Europe/Paris")
PAST_BOUNDS = (2**53, 2**63)  # past JavaScript's exact integers; past SQL's BIGINT
EVENTS = ("events", "stream_positions")  # a durable event, and the stream's counter


@dataclass(frozen=True)
class Scene:
    """What a probe aims with: the world, and the outsider on their socket."""

    world: World
    outsider: Credentials
    client: Client

    @property
    def me(self) -> int:
        return self.outsider.user_id

    @property
    def doctor(self) -> int:
        return self.world.doctor.user_id

    @property
    def patient(self) -> int:
        return self.world.patient.user_id

    @property
    def assistant(self) -> int:
        return self.world.assistant.user_id


# The call's params, or an awaitable of them (a probe that first prepares something of its own).
Aim = Callable[[Scene], Any]
Check = Callable[[Scene, Any], None]


@dataclass(frozen=True)
class Probe:
    aim: str  # what it aims at, in the test's id
    params: Aim
    answers: bool | None = False  # False: refused; True: answered; None: either (self-only)
    writes: frozenset[str] = frozenset()  # tables an answer may change (its caller's rows)
    check: Check | None = None  # what an answer must (not) hold
    who: tuple[str, ...] = OUTSIDERS
    fresh: bool = False  # it ties its outsider to A on purpose: one of its own
    asks: bool = False  # it leaves the victim an invitation to answer: rows naming them


def refused(
    aim: str, params: Aim, who: tuple[str, ...] = OUTSIDERS, *, fresh: bool = False
) -> Probe:
    return Probe(aim, params, who=who, fresh=fresh)


def self_only(aim: str, params: Aim, *writes: str, check: Check | None = None) -> Probe:
    return Probe(aim, params, answers=None, writes=frozenset(writes), check=check)


def _ms() -> int:
    return int(time.time() * 1000)


def _day(s: Scene) -> AgendaDayParams:
    date = datetime.fromtimestamp(s.world.free_slot / 1000, PARIS).date().isoformat()
    return AgendaDayParams(date, s.doctor)


def _send(s: Scene, acting_for: int | None = None) -> SendParams:
    sealed = s.world.sealed(s.outsider, acting_for)
    return SendParams(s.world.thread, sealed.msg_id.hex(), sealed.data)


def _own_list(
    s: Scene, devices: tuple[DeviceEntry, ...] = (), delegates: tuple[Delegate, ...] = ()
) -> KeysPublishParams:
    """The outsider's next signed device list, with ``devices`` and ``delegates`` added."""
    keys = s.world.server.keys[s.outsider.device_id]
    assert keys.identity is not None
    current = keys.trust.current(s.me)
    signed = keys.identity.sign_list(
        s.me, current.version + 1, _ms(), [*current.devices, *devices], list(delegates)
    )
    return KeysPublishParams(signed)


def _doctors_device(s: Scene) -> DeviceEntry:
    device = s.world.server.keys[s.world.doctor.device_id].device
    sign, enc = bytes(device.sign.verify_key), bytes(device.enc.public_key)
    return DeviceEntry(device.device, sign, enc, _ms() + DAY)


async def _bringing(s: Scene, method: str) -> Callable[[int], Any]:
    """The params that bring a patient into a care-team group with A: a new
    group, or one the outsider opens with A first (colleagues may)."""
    if method == "threads.open":
        return lambda patient: ThreadsOpenParams(GROUP, [s.doctor, patient])
    group = await s.client.call("threads.open", ThreadsOpenParams(GROUP, [s.doctor]))
    return lambda patient: ThreadMemberParams(group.id, patient)


async def _patient_into_own_group(s: Scene) -> ThreadMemberParams:
    bring = await _bringing(s, "threads.add_member")
    params: ThreadMemberParams = bring(s.patient)
    return params


async def _into_own_practice(s: Scene, user: int) -> PracticeMemberParams:
    practice = await s.client.call("practices.create", PracticeCreateParams("Cabinet Osei"))
    return PracticeMemberParams(practice.id, user)


# Checks of self-only answers, on top of the search for the victim's words.


def _no_thread(s: Scene, answer: Any) -> None:
    assert s.world.thread not in [t.id for t in answer.threads], "T is listed"


def _no_contacts(s: Scene, answer: Any) -> None:
    victims = {s.doctor, s.patient, s.assistant}
    assert not victims & {c.user for c in answer.contacts}, "the victim's presence is shown"


def _mine(s: Scene, answer: Any) -> None:
    assert answer.user == s.me, "someone else's account"


def _own_sessions(s: Scene, answer: Any) -> None:
    others = {session.id for session in answer.sessions} - s.world.sessions_of(s.me)
    assert not others, f"sessions {others} are not the caller's"


def _own_trail(s: Scene, answer: Any) -> None:
    owners = {row[0]: row[1] for row in s.world.tables()["account_audit"]}  # id -> user_id
    others = [entry.id for entry in answer.entries if owners.get(entry.id) != s.me]
    assert not others, f"entries {others} of another's trail"


def _no_filing(s: Scene, answer: Any) -> None:
    assert not answer.filings, f"filings of threads {[f.thread for f in answer.filings]}"


def _a_session(s: Scene) -> SessionParams:
    return SessionParams(min(s.world.sessions_of(s.doctor)))


def _only_me(s: Scene, answer: Any) -> None:
    assert [u.user for u in answer.users] == [], f"profiles of {[u.user for u in answer.users]}"


def _only_own_keys(s: Scene, answer: Any) -> None:
    users = sorted(found.user for found in answer.lists)
    assert users == [s.me], f"lists of {users}"


def _not_a_member(s: Scene, answer: Any) -> None:
    assert s.doctor not in [m.user for m in answer.members], "A is a member unasked"


def _only_invited(s: Scene, answer: Any) -> None:
    assert answer.status == "invited", "PA became a patient unasked"


def _no_invitation_of_others(s: Scene, answer: Any) -> None:
    assert all(i.patient == s.me for i in answer.invitations), "invitations of someone else"


def _no_practice(s: Scene, answer: Any) -> None:
    assert s.world.practice not in [p.id for p in answer.practices], "P is listed"


def _alone(s: Scene, answer: Any) -> None:
    assert [m.user for m in answer.members] == [s.me], "the new practice has other members"


def _nobody_found(s: Scene, answer: Any) -> None:
    assert answer.practitioners == [], "found a patient, an assistant or an unverified account"


def _no_patient(s: Scene, answer: Any) -> None:
    assert s.patient not in [p.user for p in answer.patients], "PA is listed"


def _no_rule(s: Scene, answer: Any) -> None:
    assert s.world.rule not in [r.id for r in answer.rules], "A's rule is listed"


def _new_rule(s: Scene, answer: Any) -> None:
    assert answer.id != s.world.rule, "A's rule was overwritten"


def _no_template(s: Scene, answer: Any) -> None:
    assert s.world.template not in [t.id for t in answer.templates], "A's template is listed"


def _no_thread_opened(s: Scene, answer: Any) -> None:
    assert answer.threads == [], "a thread was opened for PA"


def _no_delegation_of_doctor(s: Scene, answer: Any) -> None:
    found = [d for d in (*answer.given, *answer.received) if d.principal == s.doctor]
    assert not found, f"A's delegation: {found}"


def _no_appointment(s: Scene, answer: Any) -> None:
    assert s.world.appointment not in [a.id for a in answer.appointments], "PA's appointment"


SHA = bytes(32)  # a bundle's SHA-256
OWN_RULE = Rule(name="Osei vacation", text="Away")  # the outsider's
OWN_PUSH_SUBSCRIPTION = PushSubscribeParams(
    "https://fcm.googleapis.com/fcm/send/outsider", "B" + "A" * 86, "A" * 22
)
OWN_TEMPLATE = Template(name="Osei reply", text="Hello")

PROBES: dict[str, tuple[Probe, ...]] = {
    "threads.open": (
        # Only PA's own practitioners and their delegates bring PA into a group.
        refused("group-of-A-and-PA", lambda s: ThreadsOpenParams(GROUP, [s.doctor, s.patient])),
        # An unverified practitioner opens no thread at all.
        refused("pair-with-A", lambda s: ThreadsOpenParams(PAIR, [s.doctor]), who=("U",)),
        refused("thread-with-PA", lambda s: ThreadsOpenParams(PP, [s.patient])),
        refused(
            "thread-for-PA",
            lambda s: ThreadsOpenParams(PP, [s.doctor], "prescription_renewal", s.patient),
            who=("Q",),
        ),
    ),
    "threads.list": (self_only("own", lambda s: Empty(), check=_no_thread),),
    "threads.close": (refused("T", lambda s: ThreadParams(s.world.thread)),),
    "threads.reopen": (refused("T", lambda s: ThreadParams(s.world.thread)),),
    "threads.add_member": (
        refused("self-into-T", lambda s: ThreadMemberParams(s.world.thread, s.me)),
        # As for threads.open: A being in the group does not make PA the outsider's patient.
        refused("PA-into-own-group", _patient_into_own_group, who=("V",), fresh=True),
    ),
    "threads.remove_member": (
        refused("PA-out-of-T", lambda s: ThreadMemberParams(s.world.thread, s.patient)),
    ),
    "messages.send": (
        refused("T", _send),
        refused("T-for-A", lambda s: _send(s, acting_for=s.doctor)),
    ),
    "messages.history": (refused("T", lambda s: HistoryParams(s.world.thread)),),
    "messages.retract": (refused("PA-message", lambda s: MessageParams(s.world.message)),),
    "receipts.delivered": (refused("T", lambda s: ReceiptParams(s.world.thread, 1)),),
    "receipts.read": (refused("T", lambda s: ReceiptParams(s.world.thread, 1)),),
    "presence.set": (self_only("own", lambda s: PresenceSetParams(PresenceStatus.ONLINE)),),
    "presence.list": (self_only("own", lambda s: Empty(), check=_no_contacts),),
    "typing": (refused("T", lambda s: TypingParams(s.world.thread)),),
    "keys.publish": (
        refused("A-list", lambda s: KeysPublishParams(s.world.doctor_list)),
        refused("own-list-with-A-device", lambda s: _own_list(s, devices=(_doctors_device(s),))),
        refused(
            "own-list-delegating-to-S",
            lambda s: _own_list(s, delegates=(Delegate(s.assistant, "read.reply"),)),
        ),
    ),
    # The users who share no thread with the caller are left out, not refused.
    "keys.distribute": (refused("T", lambda s: s.world.distribution(s.outsider)),),
    "keys.sender_key": (
        refused(
            "PA-key-in-T",
            lambda s: KeysSenderKeyParams(
                s.world.thread, s.world.patient.device_id, s.world.sender_key
            ),
        ),
    ),
    "keys.fetch": (
        Probe(
            "A-PA-S",
            lambda s: KeysFetchParams([s.me, s.doctor, s.patient, s.assistant]),
            answers=True,
            check=_only_own_keys,
        ),
    ),
    "attachments.begin": (
        refused("T", lambda s: AttachmentBeginParams(s.world.thread, 10, b"\x01" * 32)),
    ),
    "attachments.chunk": (
        refused("PA-upload", lambda s: AttachmentChunkParams(s.world.upload, 0, b"x")),
    ),
    "attachments.finish": (refused("PA-upload", lambda s: AttachmentFileParams(s.world.upload)),),
    "attachments.read": (refused("PA-document", lambda s: AttachmentReadParams(s.world.document)),),
    "admin.verify": (refused("self", lambda s: VerifyParams(s.me)),),
    "admin.professionals": (refused("directory", lambda s: ProfessionalsParams("roux")),),
    "practices.create": (
        self_only(
            "own",
            lambda s: PracticeCreateParams("Cabinet Osei"),
            "practices",
            "practice_members",
            check=_alone,
        ),
    ),
    "practices.list": (self_only("own", lambda s: Empty(), check=_no_practice),),
    "practices.invite": (
        refused("self-into-P", lambda s: PracticeMemberParams(s.world.practice, s.me)),
        # Nobody is put in a practice without accepting: A is only invited.
        Probe(
            "A-into-own-practice",
            lambda s: _into_own_practice(s, s.doctor),
            answers=True,
            writes=frozenset({"practice_invitations", *EVENTS}),
            check=_not_a_member,
            asks=True,
            who=("V",),
            fresh=True,
        ),
    ),
    "practices.accept": (refused("P", lambda s: PracticeParams(s.world.practice)),),
    "practices.decline": (refused("P", lambda s: PracticeParams(s.world.practice)),),
    "practices.leave": (refused("P", lambda s: PracticeParams(s.world.practice)),),
    "practices.remove_member": (
        refused("S-out-of-P", lambda s: PracticeMemberParams(s.world.practice, s.assistant)),
    ),
    "practitioners.search": (  # PA and U are Quixwells
        self_only("Quixwell", lambda s: PractitionerSearchParams("Quixwell"), check=_nobody_found),
        self_only(
            "S-name",
            lambda s: PractitionerSearchParams(s.world.assistant_name),
            check=_nobody_found,
        ),
    ),
    "practitioners.get": (
        self_only("A", lambda s: PractitionerParams(s.doctor)),
        refused("PA", lambda s: PractitionerParams(s.patient)),
    ),
    # Adding A's patient would show PA's name to the outsider (patients.list).
    "patients.add": (
        refused("PA", lambda s: UserParams(s.patient), who=("U", "Q", "R")),
        # A verified practitioner may ask anyone; the patient decides, and
        # the answer names nobody.
        Probe(
            "PA",
            lambda s: UserParams(s.patient),
            answers=True,
            writes=frozenset({"care_invitations", *EVENTS}),
            check=_only_invited,
            asks=True,
            who=("V",),
            fresh=True,
        ),
    ),
    "care.invitations": (self_only("own", lambda s: Empty(), check=_no_invitation_of_others),),
    "care.accept": (
        refused("A-for-PA", lambda s: CareParams(s.doctor, s.patient)),
        refused("A", lambda s: CareParams(s.doctor)),
    ),
    "care.decline": (refused("A-for-PA", lambda s: CareParams(s.doctor, s.patient)),),
    "patients.list": (self_only("own", lambda s: Empty(), check=_no_patient),),
    "patients.find": (
        self_only("PA", lambda s: PatientFindParams(NAMES["PA"], PA_BORN), check=_no_patient),
    ),
    "inbox.get": (self_only("own", lambda s: Empty()),),
    "inbox.set": (self_only("own", lambda s: InboxSettings(), "inboxes", *EVENTS),),
    "rules.list": (self_only("own", lambda s: Empty(), check=_no_rule),),
    "rules.add": (
        self_only(
            "A-rule-id",
            lambda s: msgspec.structs.replace(OWN_RULE, id=s.world.rule),
            "rules",
            *EVENTS,
            check=_new_rule,
        ),
    ),
    "rules.update": (
        refused("A-rule", lambda s: msgspec.structs.replace(OWN_RULE, id=s.world.rule)),
    ),
    "rules.delete": (refused("A-rule", lambda s: RuleParams(s.world.rule)),),
    "templates.list": (self_only("own", lambda s: Empty(), check=_no_template),),
    "templates.create": (
        refused("for-A", lambda s: msgspec.structs.replace(OWN_TEMPLATE, owner=s.doctor)),
        refused(
            "for-P", lambda s: msgspec.structs.replace(OWN_TEMPLATE, practice=s.world.practice)
        ),
    ),
    "templates.update": (
        refused("A-template", lambda s: msgspec.structs.replace(OWN_TEMPLATE, id=s.world.template)),
    ),
    "templates.delete": (refused("A-template", lambda s: TemplateParams(s.world.template)),),
    "audit.list": (refused("T", lambda s: AuditParams(s.world.thread)),),
    "records.filed": (refused("T", lambda s: FiledParams(s.world.thread, 1, 1, 0, "fhir", SHA)),),
    "records.filings": (self_only("own", lambda s: FilingsParams(), check=_no_filing),),
    "broadcasts.create": (
        self_only("PA", lambda s: BroadcastParams([s.patient]), check=_no_thread_opened),
    ),
    "broadcasts.opt_out": (
        self_only("A", lambda s: PractitionerParams(s.doctor), "broadcast_opt_outs"),
    ),
    "broadcasts.opt_in": (
        self_only("A", lambda s: PractitionerParams(s.doctor), "broadcast_opt_outs"),
    ),
    "relatives.add": (
        self_only("own", lambda s: RelativeParams("Léo", "child", "I agree"), "users", "relatives"),
    ),
    "relatives.list": (self_only("own", lambda s: Empty()),),
    "delegations.list": (self_only("own", lambda s: Empty(), check=_no_delegation_of_doctor),),
    "push.key": (self_only("own", lambda s: Empty()),),
    "push.subscribe": (self_only("own", lambda s: OWN_PUSH_SUBSCRIPTION, "push_subscriptions"),),
    "push.unsubscribe": (self_only("own", lambda s: Empty(), "push_subscriptions"),),
    # No mobile platform is configured in the probes' deployment: refused for all.
    "push.register": (
        refused("unconfigured", lambda s: PushRegisterParams(MobilePlatform.FCM, "t" * 64)),
    ),
    "notify.get": (self_only("own", lambda s: Empty()),),
    "notify.set": (self_only("own", lambda s: NotifyPreferences(), "notify_preferences"),),
    "threads.mute": (refused("T", lambda s: MuteParams(s.world.thread)),),
    "account.get": (self_only("own", lambda s: Empty(), check=_mine),),
    "account.set": (self_only("own", lambda s: AccountParams(Locale.EN), "users", check=_mine),),
    "relatives.withdraw": (refused("PA", lambda s: RelativeIdParams(s.patient)),),
    "account.sessions": (self_only("own", lambda s: Empty(), check=_own_sessions),),
    "account.end_session": (refused("A-session", _a_session),),
    # The outsider's own other sessions: it has none, so nothing changes.
    "account.end_other_sessions": (self_only("own", lambda s: Empty()),),
    "account.password": (
        refused("wrong-password", lambda s: PasswordParams("not the password", "a new password")),
    ),
    "account.email": (
        refused("wrong-password", lambda s: EmailParams("not the password", "x@example.org")),
    ),
    "account.security": (self_only("own", lambda s: Empty()),),
    "account.delete": (refused("wrong-password", lambda s: DeleteParams("not the password")),),
    "account.audit": (self_only("own", lambda s: AccountAuditParams(), check=_own_trail),),
    "admin.users": (refused("all", lambda s: AdminUsersParams()),),
    "admin.deactivate": (refused("A", lambda s: UserParams(s.doctor)),),
    "admin.reactivate": (refused("A", lambda s: UserParams(s.doctor)),),
    "admin.reset_second_factor": (refused("A", lambda s: UserParams(s.doctor)),),
    "users.get": (
        self_only(
            "A-PA-S", lambda s: UsersParams([s.doctor, s.patient, s.assistant]), check=_only_me
        ),
    ),
    "agenda.get": (self_only("A", lambda s: AgendaParams(s.doctor)),),
    "agenda.set": (self_only("own", lambda s: AGENDA, "agendas"),),
    "agenda.add_exception": (
        refused(
            "A-agenda",
            lambda s: ExceptionParams(
                practitioner=s.doctor,
                kind=ExceptionKind.ABSENCE,
                starts_at=s.world.free_slot,
                ends_at=s.world.free_slot + HOUR,
            ),
        ),
    ),
    "agenda.remove_exception": (
        refused("A-exception", lambda s: ExceptionIdParams(s.world.exception)),
    ),
    "agenda.slots": (
        self_only("A", lambda s: SlotsParams(s.doctor, "consult", _ms(), _ms() + 3 * DAY)),
    ),
    "agenda.day": (refused("A-agenda", _day),),
    "agenda.week": (refused("A-agenda", _day),),
    "booking.hold": (
        refused(
            "for-PA",
            lambda s: HoldParams(s.doctor, "consult", s.world.free_slot, patient=s.patient),
        ),
    ),
    "booking.confirm": (refused("PA-appointment", lambda s: ConfirmParams(s.world.appointment)),),
    "booking.cancel": (
        refused("PA-appointment", lambda s: CancelParams(s.world.appointment, "no")),
    ),
    "booking.reschedule": (
        refused(
            "PA-appointment", lambda s: RescheduleParams(s.world.appointment, s.world.free_slot)
        ),
    ),
    "booking.no_show": (
        refused("PA-appointment", lambda s: AppointmentParams(s.world.appointment)),
    ),
    "booking.list": (self_only("own", lambda s: Empty(), check=_no_appointment),),
}


@pytest.fixture(scope="module", params=["sqlite"])  # the database whose file the tests read
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The world, on a server of its own. Generous call limits: an outsider
    is made and probes within milliseconds."""
    workdir = tmp_path_factory.mktemp("authorization")
    database = workdir / "carehub.db"
    server = start_server(
        f"sqlite+aiosqlite:///{database}", workdir, calls_per_second=10_000, call_burst=10_000
    )
    try:
        yield asyncio.run(build_world(server, database))
    finally:
        server.stop()


async def _built(params: Any) -> Any:
    return await params if inspect.isawaitable(params) else params


async def _attempt(client: Client, method: str, params: Any) -> Any:
    """The answer, or the refusal."""
    try:
        return await client.call(method, params)
    except CallError as error:
        return error


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + "..."


def _refusal_problems(world: World, probe: Probe, error: CallError, params: Any) -> list[str]:
    problems = []
    if probe.answers:
        problems.append(f"refused ({error}) instead of answering")
    if error.code not in TYPED:
        problems.append(f"untyped refusal {error.code}: {error.message}")
    told = leaks(world.secrets(), [error.message, error.details], params)
    if told:
        problems.append(f"the refusal tells {told}: {error} {error.details}")
    return problems


def _answer_problems(s: Scene, probe: Probe, answer: Any, params: Any) -> list[str]:
    problems = []
    if probe.answers is False:
        problems.append(f"answered {_short(answer)} instead of refusing")
    told = leaks(s.world.secrets(), answer, params, ids=False)
    if told:
        problems.append(f"the answer tells {told}")
    if probe.check is not None:
        try:
            probe.check(s, answer)
        except AssertionError as failed:
            problems.append(f"wrong answer: {str(failed).splitlines()[0]}")
    return problems


def _write_problems(world: World, probe: Probe, changed: list[Change]) -> list[str]:
    """An answer changes the tables it writes only, and none of the victim's rows."""
    problems = []
    for change in changed:
        if change.table not in probe.writes:
            problems.append(f"changed {change}")
        elif not probe.asks and any(
            world.touches_victim(change.table, r) for r in change.removed | change.added
        ):
            problems.append(f"changed the victim's rows: {change}")
    return problems


def verdict(s: Scene, probe: Probe, params: Any, outcome: Any, changed: list[Change]) -> list[str]:
    if isinstance(outcome, CallError):
        problems = _refusal_problems(s.world, probe, outcome, params)
        return problems + [f"refused, yet changed {change}" for change in changed]
    return _answer_problems(s, probe, outcome, params) + _write_problems(s.world, probe, changed)


def test_every_probe_is_of_a_method() -> None:
    stale = sorted(set(PROBES) - set(METHODS))
    assert not stale, f"probes of methods that no longer exist: {stale}"


def _cases() -> Iterator[Any]:
    """Each probe by each outsider it names; a method without a probe fails."""
    for method in METHODS:
        if method not in PROBES:
            yield pytest.param(method, None, "", id=f"{method}:no-probe")
        for probe in PROBES.get(method, ()):
            for who in probe.who:
                yield pytest.param(method, probe, who, id=f"{method}:{probe.aim}-{who}")


@pytest.mark.parametrize(("method", "probe", "who"), list(_cases()))
async def test_an_outsider_gets_nothing(
    world: World, method: str, probe: Probe | None, who: str
) -> None:
    """The probe's call by an outsider of kind ``who``: the refusal (or the
    answer) it must get, no row changed but the caller's own, and nothing of
    the victim's told."""
    assert probe is not None, f"{method} has no authorization probe: add its entry to PROBES"
    outsider = await (world.stranger(who) if probe.fresh else world.outsider(who))
    async with world.server.client(outsider) as client:
        scene = Scene(world, outsider, client)
        params = await _built(probe.params(scene))
        before = world.tables()
        outcome = await _attempt(client, method, params)
        after = world.tables()
    problems = verdict(scene, probe, params, outcome, changes(before, after))
    if problems and not probe.fresh:
        world.retire(who)
    assert not problems, f"{method} by {who}:\n" + "\n".join(problems)


def _anonymous(error: CallError, patient: int) -> str:
    return re.sub(rf"\b{patient}\b", "<patient>", repr((error.code, error.message, error.details)))


@pytest.mark.parametrize(
    ("method", "who"),
    [*(("threads.open", who) for who in ("U", "V", "R")), ("threads.add_member", "V")],
)
async def test_a_refusal_does_not_tell_whose_patient_someone_is(
    world: World, method: str, who: str
) -> None:
    """Bringing A's patient into a group is refused in the very words that
    refuse bringing in a patient of nobody's."""
    opening = method == "threads.open"  # else the outsider opens a group with A first
    outsider = await (world.outsider(who) if opening else world.stranger(who))
    nobodys = await world.outsider("Q")
    async with world.server.client(outsider) as client:
        scene = Scene(world, outsider, client)
        bring = await _bringing(scene, method)
        patients = (scene.patient, nobodys.user_id)
        answers = [await _attempt(client, method, bring(patient)) for patient in patients]
    if not all(isinstance(answer, CallError) for answer in answers):
        world.retire(who)
        pytest.fail(f"answered: {answers}")
    words = {_anonymous(answer, patient) for answer, patient in zip(answers, patients, strict=True)}
    assert len(words) == 1, words


def _past_bounds(value: Any) -> Iterator[Any]:
    """``value`` with one of its integers made one of ``PAST_BOUNDS``, each way."""
    if isinstance(value, int) and not isinstance(value, bool):
        yield from PAST_BOUNDS
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from ({**value, key: past} for past in _past_bounds(item))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from ([*value[:i], past, *value[i + 1 :]] for past in _past_bounds(item))


@pytest.mark.parametrize("method", [method for method in METHODS if method in PROBES])
async def test_an_integer_past_the_bounds_is_invalid(world: World, method: str) -> None:
    """Each integer of the method's first probe, one at a time, past 2**53 - 1
    or past 2**63 - 1: ``invalid``, never a driver's overflow (``internal``)."""
    outsider = await world.outsider("V")
    async with world.server.client(outsider) as client:
        params = await _built(PROBES[method][0].params(Scene(world, outsider, client)))
        variants = list(_past_bounds(msgspec.to_builtins(params, builtin_types=(bytes,))))
        if not variants:
            pytest.skip("no integer in its params")
        outcomes = [await _attempt(client, method, variant) for variant in variants]
    if not all(isinstance(outcome, CallError) for outcome in outcomes):
        world.retire("V")
    wrong = [
        f"{variant} -> {_short(outcome)}"
        for variant, outcome in zip(variants, outcomes, strict=True)
        if not isinstance(outcome, CallError) or outcome.code != ErrorCode.INVALID
    ]
    assert not wrong, "\n".join(wrong)
