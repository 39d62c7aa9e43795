"""The codec: frames round-trip, parameters validate, hostile bytes become DecodeError."""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import Raw, Struct

from protocol.account import (
    AccountAuditEntry,
    AccountAuditParams,
    AccountAuditResult,
    AdminUserInfo,
    AdminUsersParams,
    AdminUsersResult,
    DeleteParams,
    EmailParams,
    EndedResult,
    PasswordParams,
    SecurityInfo,
    SessionInfo,
    SessionParams,
    SessionsResult,
)
from protocol.booking import (
    AgendaDayParams,
    AgendaParams,
    AgendaSettings,
    AgendaView,
    AppointmentInfo,
    AppointmentParams,
    AppointmentsResult,
    AppointmentStatus,
    CancelParams,
    ConfirmParams,
    ExceptionIdParams,
    ExceptionInfo,
    ExceptionKind,
    ExceptionParams,
    HoldParams,
    OpeningHours,
    RescheduleParams,
    SlotsParams,
    SlotsResult,
    VisitReason,
)
from protocol.codec import (
    BrokenError,
    BrokenEvent,
    Codec,
    decode_as,
    encode,
    encode_event,
    messages,
    to_raw,
)
from protocol.e2e import Recipient, Scope
from protocol.errors import DecodeError, ErrorCode, FrameTooLarge, UnknownMethod
from protocol.events import EVENTS, PresenceChanged
from protocol.frames import (
    Call,
    Error,
    Event,
    Hello,
    Limits,
    Ping,
    Pong,
    Result,
    Welcome,
)
from protocol.methods import (
    METHODS,
    AccountInfo,
    AccountParams,
    AttachmentBeginParams,
    AttachmentBeginResult,
    AttachmentChunkParams,
    AttachmentChunkResult,
    AttachmentFileParams,
    AttachmentReadParams,
    AttachmentReadResult,
    Empty,
    FileInfo,
    HistoryParams,
    HistoryResult,
    KeysDistributeParams,
    KeysDistributeResult,
    KeysFetchParams,
    KeysFetchResult,
    KeysPublishParams,
    KeysPublishResult,
    KeysSenderKeyParams,
    KeysSenderKeyResult,
    PresenceEntry,
    PresenceListResult,
    PresenceSetParams,
    PublishedList,
    ReceiptParams,
    SendParams,
    SendResult,
    ThreadMemberParams,
    ThreadParams,
    ThreadsListResult,
    ThreadsOpenParams,
    TypingParams,
)
from protocol.model import (
    Member,
    MessageData,
    PresenceStatus,
    Role,
    ThreadInfo,
    ThreadKind,
)
from protocol.practice import (
    INAPPROPRIATE_REQUEST,
    Accepting,
    AuditEntry,
    AuditParams,
    AuditResult,
    BroadcastParams,
    BroadcastResult,
    BroadcastSkip,
    BroadcastThread,
    CareInvitation,
    CareInvitationsResult,
    CareParams,
    CareStatus,
    Delegation,
    DelegationsResult,
    InboxSettings,
    MessageParams,
    PatientAddResult,
    PatientFindParams,
    PatientInfo,
    PatientsFoundResult,
    PatientsListResult,
    PracticeCreateParams,
    PracticeInfo,
    PracticeInvitation,
    PracticeMemberParams,
    PracticeParams,
    PracticesListResult,
    PractitionerInfo,
    PractitionerParams,
    PractitionerSearchParams,
    PractitionersResult,
    ProfessionalInfo,
    ProfessionalsParams,
    ProfessionalsResult,
    RefusalReason,
    RelativeIdParams,
    RelativeInfo,
    RelativeParams,
    RelativesResult,
    RequestReason,
    Rule,
    RuleAction,
    RuleParams,
    RulesResult,
    Template,
    TemplateParams,
    TemplatesResult,
    UserParams,
    UserProfile,
    UsersParams,
    UsersResult,
    VerifyParams,
    WeeklySpan,
    builtin_template,
)
from protocol.push import (
    MobilePlatform,
    MuteParams,
    NotifyPreferences,
    PushKey,
    PushRegisterParams,
    PushSubscribeParams,
)
from protocol.records import FiledParams, Filing, FilingsParams, FilingsResult
from protocol.texts import Locale

T0 = 1_800_000_000_000
SETTINGS = AgendaSettings(
    time_zone="Europe/Paris",
    reasons=[VisitReason("consult", "Consultation", 30, video=True)],
    hours=[OpeningHours(0, "09:00", "12:00", ["consult"])],
)
APPOINTMENT = AppointmentInfo(
    7, 2, 5, "consult", T0, T0 + 1_800_000, AppointmentStatus.HELD, hold_expires_at=T0 - 1
)
CONFIRMED = AppointmentInfo(7, 2, 5, "consult", T0, T0 + 1_800_000, AppointmentStatus.CONFIRMED)
BLOCK = ExceptionInfo(3, 2, ExceptionKind.BLOCK, T0, T0 + 3_600_000, note="paperwork")
VIEW = AgendaView(2, "Europe/Paris", T0, T0 + 86_400_000, [CONFIRMED], [BLOCK])
BOOKING_EXAMPLES: dict[str, tuple[Any, Any]] = {
    "agenda.get": (AgendaParams(practitioner=2), SETTINGS),
    "agenda.set": (SETTINGS, SETTINGS),
    "agenda.add_exception": (
        ExceptionParams(kind=ExceptionKind.BLOCK, starts_at=T0, ends_at=T0 + 3_600_000),
        BLOCK,
    ),
    "agenda.remove_exception": (ExceptionIdParams(3), Empty()),
    "agenda.slots": (
        SlotsParams(2, "consult", T0, T0 + 86_400_000),
        SlotsResult([T0, T0 + 1_800_000], 30, "Europe/Paris"),
    ),
    "agenda.day": (AgendaDayParams("2027-01-15"), VIEW),
    "agenda.week": (AgendaDayParams("2027-01-15", practitioner=2), VIEW),
    "booking.hold": (HoldParams(2, "consult", T0), APPOINTMENT),
    "booking.confirm": (ConfirmParams(7, subject=9, note="first visit"), CONFIRMED),
    "booking.cancel": (CancelParams(7, reason="ill"), CONFIRMED),
    "booking.reschedule": (RescheduleParams(7, T0 + 1_800_000), CONFIRMED),
    "booking.no_show": (AppointmentParams(7), CONFIRMED),
    "booking.list": (Empty(), AppointmentsResult([CONFIRMED])),
}

LIMIT = 1 << 20
codec = Codec(LIMIT)

LIMITS = Limits(
    frame_bytes=98304,
    envelope_bytes=65536,
    calls_per_second=20.0,
    call_burst=60,
    sends_per_second=5.0,
    send_burst=30,
    history_page=200,
)
MESSAGE = MessageData(
    id=7,
    thread=3,
    thread_seq=2,
    sender=1,
    sender_device=11,
    client_msg_id="c-1",
    kind="text",
    envelope=b"\x00ciphertext\xff",
    sent_at=1_700_000_000_000,
    reply_allowed=False,
    reason="results",
)
THREAD = ThreadInfo(
    id=3,
    kind=ThreadKind.PATIENT_PRACTITIONER,
    members=[Member(1, Role.PATIENT, "Ana"), Member(2, Role.PRACTITIONER, "Dr B")],
    created_by=1,
    created_at=1_700_000_000_000,
    last_seq=4,
    read_seq=2,
    delivered_seq=3,
    unread=2,
)

CLIENT_FRAMES = [
    Hello(versions=[1], token="tok", device=5),
    Hello(versions=[1, 2], token="t" * 512, device=5, resume_from=0, client="py/1.0"),
    Call(id=0, method="threads.list"),
    Call(id=2**53 - 1, method="messages.send", params=to_raw({"thread": 1})),
    Ping(),
    Ping(ts=123),
    Pong(ts=456),
]
SERVER_FRAMES = [
    Welcome(
        v=1,
        user=1,
        role="patient",
        device=5,
        session="s-1",
        server_time=1_700_000_000_000,
        cursor=42,
        heartbeat_ms=25_000,
        limits=LIMITS,
        resumed=True,
    ),
    Result(id=1),
    Result(id=9, value=to_raw({"message_id": 1})),
    Error(id=None, code=ErrorCode.INVALID, message="bad frame"),
    Error(id=3, code=ErrorCode.RATE_LIMITED, message="slow", details={"retry_after_ms": 250}),
    Event(type="presence", data=to_raw({"user": 1, "status": "online"})),
    Event(type="message.new", data=to_raw(MESSAGE), seq=17),
    Ping(ts=1),
    Pong(),
]


def _id(frame: Struct) -> str:
    return type(frame).__name__


@pytest.mark.parametrize("frame", CLIENT_FRAMES, ids=_id)
def test_client_frames_round_trip(frame: Struct) -> None:
    assert codec.decode_client(encode(frame)) == frame


@pytest.mark.parametrize("frame", SERVER_FRAMES, ids=_id)
def test_server_frames_round_trip(frame: Struct) -> None:
    assert codec.decode_server(encode(frame)) == [frame]


def test_every_frame_type_is_covered() -> None:
    covered = {type(f) for f in CLIENT_FRAMES + SERVER_FRAMES}
    assert covered == {Hello, Welcome, Call, Result, Error, Event, Ping, Pong}


def test_frames_are_tagged_maps() -> None:
    raw = msgspec.msgpack.decode(encode(Call(id=1, method="typing")))
    assert raw == {"t": "call", "id": 1, "method": "typing", "params": {}}


def test_encode_event_embeds_data_without_reencoding() -> None:
    data = to_raw(PresenceChanged(user=4, status=PresenceStatus.AWAY, last_seen=10))
    [frame] = codec.decode_server(encode_event("presence", data, seq=None))
    assert isinstance(frame, Event)
    assert (frame.type, frame.seq, bytes(frame.data)) == ("presence", None, bytes(data))
    assert Codec.decode_event("presence", frame.data) == PresenceChanged(4, PresenceStatus.AWAY, 10)


@pytest.mark.parametrize(
    "frame", [f for f in SERVER_FRAMES if type(f) not in (Ping, Pong)], ids=_id
)
def test_decode_client_rejects_server_frames(frame: Struct) -> None:
    with pytest.raises(DecodeError):
        codec.decode_client(encode(frame))


@pytest.mark.parametrize(
    "frame", [f for f in CLIENT_FRAMES if type(f) not in (Ping, Pong)], ids=_id
)
def test_decode_server_rejects_client_frames(frame: Struct) -> None:
    with pytest.raises(DecodeError):
        codec.decode_server(encode(frame))


# --- several frames in one message (version 2) ---------------------------------------------


def _pings(count: int) -> list[bytes]:
    return [encode(Ping(ts=n)) for n in range(count)]


@pytest.mark.parametrize("count", [2, 15, 16, 70_000])  # each MessagePack array head
def test_frames_packed_together_read_back_in_order(count: int) -> None:
    frames = _pings(count)
    [(message, size)] = messages(frames, 10**7)
    assert size == sum(map(len, frames))
    assert Codec(10**7).decode_server(message) == [Ping(ts=n) for n in range(count)]


def test_a_message_never_exceeds_its_bytes_and_a_frame_alone_is_itself() -> None:
    frames = _pings(40)
    packed = list(messages(frames, 60))
    assert all(len(message) <= 60 for message, _ in packed)
    assert sum(size for _, size in packed) == sum(map(len, frames))
    read = [frame for message, _ in packed for frame in Codec(60).decode_server(message)]
    assert read == [Ping(ts=n) for n in range(40)]
    big = encode(Ping(ts=2**40))
    assert list(messages([big], 4)) == [(big, len(big))]  # too big to share: sent as itself


def test_without_a_limit_each_frame_is_its_own_message() -> None:
    frames = _pings(3)
    assert list(messages(frames, 0)) == [(frame, len(frame)) for frame in frames]


def test_a_frame_this_client_cannot_read_is_left_out_of_its_message() -> None:
    frames = [encode(Ping(ts=1)), encode({"t": "future-frame"}), encode(Pong(ts=2))]
    [(message, _)] = messages(frames, 1024)
    assert codec.decode_server(message) == [Ping(ts=1), Pong(ts=2)]


@pytest.mark.parametrize(
    ("frame", "type_", "seq"),
    [
        ({"t": "event", "data": {}}, "", None),
        ({"t": "event", "type": 5, "seq": 7}, "", 7),
        ({"t": "event", "type": "receipt", "seq": "7"}, "receipt", None),
        ({"t": "event", "type": ["receipt"], "seq": True}, "", None),
        ({"t": "event", "type": "receipt", "seq": 7.0}, "receipt", None),
        ({"t": "event", "type": None, "seq": 2**53}, "", 2**53),
    ],
)
def test_an_event_frame_that_does_not_validate_is_read_as_broken(
    frame: dict[str, Any], type_: str, seq: int | None
) -> None:
    [broken] = codec.decode_server(msgspec.msgpack.encode(frame))
    assert isinstance(broken, BrokenEvent)
    assert (broken.type, broken.seq) == (type_, seq)
    assert msgspec.msgpack.decode(broken.frame) == frame
    assert broken.reason


@pytest.mark.parametrize(
    ("frame", "read"),
    [
        (
            {"t": "error", "id": 1, "code": "teapot", "message": "?", "details": {"a": 1}},
            ("teapot", "?", {"a": 1}),
        ),
        ({"t": "error", "id": 2, "code": "invalid"}, ("invalid", "", {})),
        ({"t": "error", "id": 3, "code": 7, "message": 8, "details": [1]}, ("", "", {})),
        ({"t": "error", "id": 4, "code": "x", "details": {1: 2}}, ("x", "", {})),
    ],
)
def test_an_error_frame_answering_a_call_that_does_not_validate_is_read_as_broken(
    frame: dict[str, Any], read: tuple[str, str, dict[str, Any]]
) -> None:
    [broken] = codec.decode_server(msgspec.msgpack.encode(frame))
    assert isinstance(broken, BrokenError)
    assert (broken.id, broken.code, broken.message, broken.details) == (frame["id"], *read)
    assert broken.reason


def test_a_broken_event_keeps_its_place_among_several_frames() -> None:
    bad = {"t": "event", "type": 5, "seq": 9}
    frames = [encode(Ping(ts=1)), encode(bad), encode({"t": "future-frame"}), encode(Pong(ts=2))]
    [(message, _)] = messages(frames, 1024)
    first, broken, last = codec.decode_server(message)
    assert (first, last) == (Ping(ts=1), Pong(ts=2))
    assert isinstance(broken, BrokenEvent) and broken.seq == 9


def test_a_message_of_several_frames_is_held_to_the_size_limit() -> None:
    [(message, _)] = messages(_pings(20), 1024)
    with pytest.raises(FrameTooLarge):
        Codec(len(message) - 1).decode_server(message)


# --- methods: params and results ---------------------------------------------------------

FILE = "0123456789abcdef" * 2
PRACTICE = PracticeInfo(1, "Cabinet", 2, [Member(2, Role.PRACTITIONER, "Dr B")])
REASONS = [RequestReason("renewal", "Prescription renewal", 72), RequestReason("admin", "Forms")]
PRACTITIONER = PractitionerInfo(
    2,
    "Dr B",
    Accepting.LIST,
    REASONS,
    profession="Médecin",
    specialty="Médecine générale",
    refusal=RefusalReason.OPEN_THREADS,
    refusal_text="too many",
    refusal_details={"limit": 3},
)
INBOX = InboxSettings(Accepting.LIST, [4, 5], REASONS, max_open_threads=2, max_daily_messages=9)
TEMPLATE = Template(id=9, name="Ready", text="Ready {date}", practice=1, reply_allowed=False)
RULE = Rule(
    id=9,
    position=1,
    name="Evenings",
    text="I read messages in office hours.",
    action=RuleAction.REFUSE,
    starts=1,
    ends=2,
    weekly=[WeeklySpan(0, "19:00", "08:00")],
    timezone="Europe/Paris",
    exempt=[4],
    redirect_to=3,
    emergency_notice=True,
    enabled=False,
)
SESSION = SessionInfo(8, 3, "Firefox", 1_700_000_000_000, 1_702_592_000_000, current=True)
ACCOUNT_EXAMPLES: dict[str, tuple[Any, Any]] = {
    "account.sessions": (Empty(), SessionsResult([SESSION])),
    "account.end_session": (SessionParams(8), Empty()),
    "account.end_other_sessions": (Empty(), EndedResult(2)),
    "account.password": (
        PasswordParams("old secret", "new secret!", end_other_sessions=False),
        EndedResult(0),
    ),
    "account.email": (EmailParams("old secret", "ana@example.org"), Empty()),
    "account.delete": (DeleteParams("my secret"), EndedResult(3)),
    "account.security": (Empty(), SecurityInfo("ana@example.org", True, False, 9)),
    "account.audit": (
        AccountAuditParams(before=40, limit=10),
        AccountAuditResult([AccountAuditEntry(39, 1_700_000_000_000, "password_changed", 3, "")]),
    ),
    "admin.users": (
        AdminUsersParams("marchand", Role.PRACTITIONER),
        AdminUsersResult(
            [AdminUserInfo(2, "smarchand", "Dr Marchand", Role.PRACTITIONER, True, False)]
        ),
    ),
    "admin.deactivate": (UserParams(user=4), Empty()),
    "admin.reactivate": (UserParams(user=4), Empty()),
    "admin.reset_second_factor": (UserParams(user=4), EndedResult(2)),
}
RECORDS_EXAMPLES: dict[str, tuple[Any, Any]] = {
    "records.filed": (FiledParams(3, 12, 9, 2, "fhir+folder", bytes(range(32))), Empty()),
    "records.filings": (
        FilingsParams(after=2, limit=100),
        FilingsResult([Filing(3, 12, 1_700_000_000_000)], has_more=False),
    ),
}
EXAMPLES: dict[str, tuple[Struct, Struct]] = {
    "threads.open": (ThreadsOpenParams(kind=ThreadKind.GROUP, members=[2, 3]), THREAD),
    "threads.list": (Empty(), ThreadsListResult(threads=[THREAD])),
    "messages.send": (
        SendParams(
            thread=3,
            client_msg_id="x" * 64,
            envelope=b"\x01\x02",
            kind="document.pdf",
            reason="prescription_renewal",
            reply_allowed=False,
        ),
        SendResult(message_id=7, thread_seq=2, sent_at=1, duplicate=True),
    ),
    "messages.history": (
        HistoryParams(thread=3, before_seq=0, limit=200),
        HistoryResult(messages=[MESSAGE], has_more=True),
    ),
    "receipts.delivered": (ReceiptParams(thread=3, thread_seq=1), Empty()),
    "receipts.read": (ReceiptParams(thread=3, thread_seq=9), Empty()),
    "presence.set": (PresenceSetParams(status=PresenceStatus.AWAY, foreground=True), Empty()),
    "presence.list": (
        Empty(),
        PresenceListResult(contacts=[PresenceEntry(2, PresenceStatus.OFFLINE, last_seen=5)]),
    ),
    "typing": (TypingParams(thread=3, active=False), Empty()),
    "keys.publish": (KeysPublishParams(list=b"signed list"), KeysPublishResult(version=2)),
    "keys.fetch": (KeysFetchParams(users=[2, 3]), KeysFetchResult([PublishedList(2, b"signed")])),
    "keys.distribute": (
        KeysDistributeParams(thread=3, key=b"signed key", recipients=[Recipient(4, b"k" * 80)]),
        KeysDistributeResult(duplicate=True),
    ),
    "keys.sender_key": (
        KeysSenderKeyParams(thread=3, device=4, key_id=b"i" * 16),
        KeysSenderKeyResult(key=b"signed key", wrapped=b"k" * 80),
    ),
    "attachments.begin": (
        AttachmentBeginParams(thread=3, size=70_000, hash=b"h" * 32),
        AttachmentBeginResult(file=FILE, received=65_536, chunk_bytes=65_536),
    ),
    "attachments.chunk": (
        AttachmentChunkParams(file=FILE, offset=65_536, data=b"c" * 10),
        AttachmentChunkResult(received=65_546),
    ),
    "attachments.finish": (
        AttachmentFileParams(file=FILE),
        FileInfo(file=FILE, thread=3, size=65_546, hash=b"h" * 32),
    ),
    "attachments.read": (
        AttachmentReadParams(file=FILE, offset=0, length=1024),
        AttachmentReadResult(data=b"c" * 10, size=65_546),
    ),
    "threads.close": (ThreadParams(thread=3), THREAD),
    "threads.reopen": (ThreadParams(thread=3), THREAD),
    "threads.add_member": (ThreadMemberParams(thread=3, user=5), THREAD),
    "threads.remove_member": (ThreadMemberParams(thread=3, user=5), THREAD),
    "admin.verify": (VerifyParams(user=4, rpps="10001234567"), Empty()),
    "admin.professionals": (
        ProfessionalsParams("roux"),
        ProfessionalsResult(
            [ProfessionalInfo("10001234567", "ROUX", "Hélène", "Médecin", "Pédiatrie", account=4)]
        ),
    ),
    "practices.create": (PracticeCreateParams(name="Cabinet"), PRACTICE),
    "practices.list": (
        Empty(),
        PracticesListResult(
            [PRACTICE], [PracticeInvitation(3, "Other", Member(5, Role.PRACTITIONER, "Dr C"), 9)]
        ),
    ),
    "practices.invite": (PracticeMemberParams(practice=1, user=4), PRACTICE),
    "practices.accept": (PracticeParams(practice=1), PRACTICE),
    "practices.decline": (PracticeParams(practice=1), Empty()),
    "practices.leave": (PracticeParams(practice=1), Empty()),
    "practices.remove_member": (PracticeMemberParams(practice=1, user=4), PRACTICE),
    "practitioners.search": (
        PractitionerSearchParams(text="mart", limit=5),
        PractitionersResult([PRACTITIONER]),
    ),
    "practitioners.get": (PractitionerParams(practitioner=2), PRACTITIONER),
    "patients.add": (UserParams(user=4), PatientAddResult(CareStatus.INVITED)),
    "care.invitations": (
        Empty(),
        CareInvitationsResult([CareInvitation(Member(2, Role.PRACTITIONER, "Dr B"), 4, 9)]),
    ),
    "care.accept": (CareParams(practitioner=2, patient=7), Empty()),
    "care.decline": (CareParams(practitioner=2), Empty()),
    "patients.list": (Empty(), PatientsListResult([PatientInfo(4, "Camille", "added", 7)])),
    "patients.find": (
        PatientFindParams("camille", "1987-03-14"),
        PatientsFoundResult([PatientInfo(4, "Camille Roy", "appointment", 7)]),
    ),
    "inbox.get": (Empty(), INBOX),
    "inbox.set": (INBOX, INBOX),
    "rules.list": (Empty(), RulesResult([RULE])),
    "rules.add": (RULE, RULE),
    "rules.update": (RULE, RULE),
    "rules.delete": (RuleParams(rule=9), Empty()),
    "templates.list": (
        Empty(),
        TemplatesResult([builtin_template(INAPPROPRIATE_REQUEST, "en"), TEMPLATE]),
    ),
    "templates.create": (TEMPLATE, TEMPLATE),
    "templates.update": (TEMPLATE, TEMPLATE),
    "templates.delete": (TemplateParams(template=9), Empty()),
    "audit.list": (
        AuditParams(thread=3, after=10, limit=50),
        AuditResult(
            [AuditEntry(11, 3, 1_700_000_000_000, "sent", actor=2, acting_for=1, thread_seq=4)],
            True,
        ),
    ),
    "messages.retract": (MessageParams(message=12), Empty()),
    "broadcasts.create": (
        BroadcastParams(patients=[4, 5], reason="flu"),
        BroadcastResult([BroadcastThread(4, 30)], [BroadcastSkip(5, RefusalReason.OPTED_OUT)]),
    ),
    "broadcasts.opt_out": (PractitionerParams(practitioner=2), Empty()),
    "broadcasts.opt_in": (PractitionerParams(practitioner=2), Empty()),
    "relatives.add": (
        RelativeParams("Léo", "child", "I consent"),
        RelativeInfo(8, "Léo", "child", "I consent", 1_700_000_000_000),
    ),
    "relatives.list": (
        Empty(),
        RelativesResult([RelativeInfo(8, "Léo", "child", "I consent", 1_700_000_000_000)]),
    ),
    "relatives.withdraw": (RelativeIdParams(8), Empty()),
    **BOOKING_EXAMPLES,
    "delegations.list": (
        Empty(),
        DelegationsResult(
            given=[],
            received=[Delegation(2, 5, [Scope.READ, Scope.REPLY], expires=1_800_000_000_000)],
        ),
    ),
    "account.get": (Empty(), AccountInfo(3, "Ana", Role.PATIENT, Locale.FR)),
    "push.key": (Empty(), PushKey("BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIg")),
    "push.subscribe": (
        PushSubscribeParams("https://fcm.googleapis.com/fcm/send/x1", "B" + "A" * 86, "A" * 22),
        Empty(),
    ),
    "push.register": (PushRegisterParams(MobilePlatform.APNS, "a0" * 32, preview=True), Empty()),
    "push.unsubscribe": (Empty(), Empty()),
    "notify.get": (Empty(), NotifyPreferences()),
    "notify.set": (
        NotifyPreferences(
            quiet_hours=[WeeklySpan(0, "20:00", "08:00")],
            do_not_disturb_until=1_800_000_000_000,
            email="ana@example.org",
        ),
        NotifyPreferences(
            quiet_hours=[WeeklySpan(0, "20:00", "08:00")],
            do_not_disturb_until=1_800_000_000_000,
            email="ana@example.org",
        ),
    ),
    "threads.mute": (
        MuteParams(7),
        ThreadInfo(**{**msgspec.structs.asdict(THREAD), "muted": True}),
    ),
    "account.set": (AccountParams(Locale.EN), AccountInfo(3, "Ana", Role.PATIENT, Locale.EN)),
    **ACCOUNT_EXAMPLES,
    **RECORDS_EXAMPLES,
    "users.get": (
        UsersParams([2, 5]),
        UsersResult([UserProfile(5, "Camille", Role.ASSISTANT, acting_for=[2])]),
    ),
}


def test_every_method_has_an_example() -> None:
    assert set(EXAMPLES) == set(METHODS)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_params_and_result_round_trip(method: str) -> None:
    params, result = EXAMPLES[method]
    assert Codec.decode_params(method, to_raw(params)) == params
    assert Codec.decode_result(method, to_raw(result)) == result


@pytest.mark.parametrize("method", sorted(METHODS))
def test_params_survive_the_call_frame(method: str) -> None:
    params, _ = EXAMPLES[method]
    frame = codec.decode_client(encode(Call(id=1, method=method, params=to_raw(params))))
    assert isinstance(frame, Call)
    assert Codec.decode_params(frame.method, frame.params) == params


SEND = {"thread": 1, "client_msg_id": "c", "envelope": b"e"}
INVALID_PARAMS: list[tuple[str, dict[str, Any]]] = [
    ("messages.send", {**SEND, "client_msg_id": "x" * 65}),
    ("messages.send", {**SEND, "client_msg_id": ""}),
    ("messages.send", {**SEND, "client_msg_id": 5}),
    ("messages.send", {**SEND, "thread": 0}),
    ("messages.send", {**SEND, "thread": "1"}),
    ("messages.send", {**SEND, "envelope": "not bytes"}),
    ("messages.send", {**SEND, "kind": "Not A Kind"}),
    ("messages.send", {**SEND, "kind": "k" * 33}),
    ("messages.send", {**SEND, "reason": ""}),
    ("messages.send", {**SEND, "reply_allowed": "yes"}),
    ("messages.send", {"thread": 1, "client_msg_id": "c"}),
    ("messages.history", {"thread": 1, "limit": 0}),
    ("messages.history", {"thread": 1, "limit": 201}),
    ("messages.history", {"thread": 1, "before_seq": -1}),
    ("messages.history", {"thread": 1.5}),
    ("threads.open", {"kind": "group", "members": []}),
    ("keys.fetch", {"users": []}),
    ("keys.publish", {"list": "not bytes"}),
    ("keys.distribute", {"thread": 1, "key": b"k", "recipients": []}),
    ("keys.distribute", {"thread": 1, "key": b"k", "recipients": [[4, b"short"]]}),
    ("keys.sender_key", {"thread": 1, "device": 4, "key_id": b"short"}),
    ("attachments.begin", {"thread": 1, "size": 0, "hash": b"h" * 32}),
    ("attachments.begin", {"thread": 1, "size": 5, "hash": b"short"}),
    ("attachments.chunk", {"file": "../etc/passwd", "offset": 0, "data": b"x"}),
    ("attachments.chunk", {"file": FILE, "offset": -1, "data": b"x"}),
    ("attachments.chunk", {"file": FILE, "offset": 0, "data": b""}),
    ("attachments.read", {"file": FILE.upper()}),
    ("threads.open", {"kind": "group", "members": list(range(1, 258))}),
    ("threads.open", {"kind": "group", "members": [0]}),
    ("threads.open", {"kind": "party", "members": [2]}),
    ("threads.open", {"members": [2]}),
    ("receipts.read", {"thread": 1, "thread_seq": 0}),
    ("receipts.delivered", {"thread": -1, "thread_seq": 1}),
    ("presence.set", {"status": "busy"}),
    ("presence.set", {"status": "online", "foreground": 1}),
    ("typing", {"thread": 1, "active": None}),
    ("threads.list", []),
    # Times past 2200 are a client's bug, refused before any date arithmetic.
    ("booking.hold", {"practitioner": 2, "reason": "consult", "starts_at": 10**16}),
    ("agenda.slots", {"practitioner": 2, "reason": "consult", "starts_at": 0, "ends_at": 10**16}),
]


@pytest.mark.parametrize(("method", "params"), INVALID_PARAMS)
def test_invalid_params_raise_decode_error(method: str, params: Any) -> None:
    with pytest.raises(DecodeError) as info:
        Codec.decode_params(method, to_raw(params))
    assert type(info.value) is DecodeError
    assert info.value.code is ErrorCode.INVALID


def test_params_at_the_bounds_are_accepted() -> None:
    members = list(range(1, 257))
    assert Codec.decode_params(
        "threads.open", to_raw({"kind": "group", "members": members})
    ) == ThreadsOpenParams(ThreadKind.GROUP, members)
    assert Codec.decode_params("messages.history", to_raw({"thread": 1, "limit": 1})).limit == 1


@pytest.mark.parametrize("decode", [Codec.decode_params, Codec.decode_result])
@pytest.mark.parametrize("method", ["nope", "", "messages.SEND", "messages.send "])
def test_unknown_method(decode: Any, method: str) -> None:
    with pytest.raises(UnknownMethod) as info:
        decode(method, to_raw({}))
    assert isinstance(info.value, DecodeError)
    assert info.value.code is ErrorCode.UNKNOWN_METHOD


def test_invalid_result_raises_decode_error() -> None:
    with pytest.raises(DecodeError):
        Codec.decode_result("messages.send", to_raw({"message_id": "1"}))


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_decode_event_validates_known_types(event: str) -> None:
    with pytest.raises(DecodeError):
        Codec.decode_event(event, to_raw(["not", "a", "map"]))
    if (
        msgspec.json.schema(EVENTS[event])
        .get("$defs", {})
        .get(EVENTS[event].__name__, {})
        .get("required")
    ):
        with pytest.raises(DecodeError):
            Codec.decode_event(event, to_raw({"thread": "not an int"}))


def test_decode_event_keeps_unknown_types_raw() -> None:
    data = to_raw({"anything": [1, 2]})
    assert Codec.decode_event("future.event", data) is data


INVALID_FRAMES: list[dict[str, Any]] = [
    {"t": "call", "id": -1, "method": "typing"},
    {"t": "call", "id": 2**53, "method": "typing"},
    {"t": "call", "id": 1, "method": "m" * 65},
    {"t": "call", "id": 1},
    {"t": "call", "id": "1", "method": "typing"},
    {"t": "hello", "versions": [1], "token": "t" * 513, "device": 1},
    {"t": "hello", "versions": [1], "token": "t", "device": 1, "resume_from": -1},
    {"t": "hello", "versions": [1], "token": "t", "device": 1, "client": "c" * 65},
    {"t": "hello", "versions": "1", "token": "t", "device": 1},
    {"t": "ping", "ts": "now"},
    {"t": "nope"},
    {"id": 1, "method": "typing"},
    {},
    [],
    None,
]


@pytest.mark.parametrize("obj", INVALID_FRAMES)
def test_invalid_client_frames(obj: Any) -> None:
    with pytest.raises(DecodeError):
        codec.decode_client(msgspec.msgpack.encode(obj))


@pytest.mark.parametrize(
    "obj",
    [
        {"t": "error", "id": None, "code": "teapot", "message": "?"},  # answers no call
        {"t": "error", "id": -5, "code": "teapot", "message": "?"},
        {"t": "error", "id": 2**53, "code": "invalid", "message": "?"},
        {"t": "welcome", "v": 1},
        {},  # untagged: not an event, whatever it holds
        {"type": "receipt", "seq": 5},
        {"t": "result", "id": -5},
    ],
)
def test_invalid_server_frames(obj: Any) -> None:
    with pytest.raises(DecodeError):
        codec.decode_server(msgspec.msgpack.encode(obj))


# --- size limit ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decode", "read"), [("decode_client", Ping(ts=2**40)), ("decode_server", [Ping(ts=2**40)])]
)
def test_frame_size_limit(decode: str, read: Any) -> None:
    frame = encode(Ping(ts=2**40))
    assert getattr(Codec(len(frame)), decode)(frame) == read
    with pytest.raises(FrameTooLarge) as info:
        getattr(Codec(len(frame) - 1), decode)(frame)
    assert isinstance(info.value, DecodeError)
    assert info.value.code is ErrorCode.TOO_LARGE


def test_size_is_checked_before_parsing() -> None:
    with pytest.raises(FrameTooLarge):
        Codec(8).decode_client(b"\xc1" * 9)


# --- call_id ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"t": "call", "id": 7, "method": 1}, 7),
        ({"t": "call", "id": 7, "method": "m" * 65}, 7),
        ({"t": "call", "id": 8}, 8),
        ({"t": "call", "id": 9, "method": "x", "params": [1], "extra": True}, 9),
        ({"t": "call", "id": 2**53 - 1, "method": None}, 2**53 - 1),
        ({"t": "call", "id": 0, "method": None}, 0),
        ({"t": "call", "id": -1, "method": "x"}, None),
        ({"t": "call", "id": 2**53, "method": "x"}, None),
        ({"t": "call", "id": "7", "method": "x"}, None),
        ({"t": "call", "method": "x"}, None),
        ({"t": "hello", "id": 7}, None),
        ({"t": "result", "id": 7}, None),
        # No tag: not a valid frame, but its id is still worth answering.
        ({"id": 7, "method": "x"}, 7),
        ([7], None),
    ],
)
def test_call_id(obj: Any, expected: int | None) -> None:
    assert Codec.call_id(msgspec.msgpack.encode(obj)) == expected


@pytest.mark.parametrize("data", [b"", b"\xc1", b"\x81\xa1t", b"\x91" * 100_000])
def test_call_id_of_garbage(data: bytes) -> None:
    assert Codec.call_id(data) is None


# --- hostile input ------------------------------------------------------------------------

TAGS = ["hello", "welcome", "call", "result", "error", "event", "ping", "pong", "nope"]
FIELDS = [
    "t", "id", "method", "params", "value", "versions", "token", "device", "resume_from",
    "client", "v", "user", "role", "session", "server_time", "cursor", "heartbeat_ms",
    "limits", "resumed", "code", "message", "details", "type", "data", "seq", "ts",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), children, max_size=5)
        | st.dictionaries(st.integers(-5, 5), children, max_size=3)
    ),
    max_leaves=30,
)
tagged = st.builds(
    lambda tag, rest: {**rest, "t": tag},
    st.sampled_from(TAGS),
    st.dictionaries(st.sampled_from(FIELDS), values, max_size=8),
)
hostile = settings(max_examples=300, deadline=None)


def _only_decode_errors(data: bytes) -> None:
    for decode in (codec.decode_client, codec.decode_server):
        with contextlib.suppress(DecodeError):
            decode(data)
    Codec.call_id(data)


@hostile
@given(st.binary(max_size=256))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    _only_decode_errors(data)


@hostile
@given(values | tagged)
def test_arbitrary_structures_raise_only_decode_error(obj: Any) -> None:
    _only_decode_errors(msgspec.msgpack.encode(obj))


@hostile
@given(st.sampled_from(sorted(METHODS)), values)
def test_arbitrary_params_raise_only_decode_error(method: str, obj: Any) -> None:
    raw = Raw(msgspec.msgpack.encode(obj))
    for decode in (Codec.decode_params, Codec.decode_result):
        with contextlib.suppress(DecodeError):
            decode(method, raw)


@pytest.mark.parametrize(
    "data",
    [
        b"\x91" * 100_000,
        b"\x81\xa1t\xa4call" + b"\x91" * 100_000,
        b"\x81\xa1x" * 100_000 + b"\xc0",
        encode(Call(id=1, method="typing", params=Raw(b"\x91" * 100_000 + b"\xc0"))),
    ],
    ids=["arrays", "after-tag", "maps", "in-params"],
)
def test_deep_nesting_is_a_decode_error(data: bytes) -> None:
    for decode in (codec.decode_client, codec.decode_server):
        with pytest.raises(DecodeError):
            decode(data)


def test_deeply_nested_params_are_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        Codec.decode_params("threads.list", Raw(b"\x81\xa1a" + b"\x91" * 100_000 + b"\xc0"))


def test_decode_as_wraps_every_failure() -> None:
    with pytest.raises(DecodeError):
        decode_as(int, b"\xa1x")
