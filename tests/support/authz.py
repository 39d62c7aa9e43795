"""The authorization matrix's instruments: a practitioner's private world,
the outsiders who probe it, every table of the SQLite database read behind
the server's back, and the search for the victim's data in what an
outsider got back.

The world: a verified practitioner A; their patient PA; a thread T that PA
opened with A, with a message, a document and an unfinished upload in it;
PA's confirmed appointment with A; A's agenda exception, rule and template;
A's practice P with S, an assistant A delegated read and reply to. The
outsiders: U, a practitioner nobody verified; V, a verified practitioner
unrelated to A and PA; Q, a patient of nobody; R, an assistant of another
practice of A's whose delegation A revoked. Each kind has one outsider,
made when first needed and replaced once retired.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from clients import Credentials
from clients.e2e import Body, Outgoing, Sealed, seal_envelope
from clients.e2e.sender_keys import new_sender_key
from protocol.booking import (
    AgendaSettings,
    ConfirmParams,
    ExceptionKind,
    ExceptionParams,
    HoldParams,
    OpeningHours,
    SlotsParams,
    VisitReason,
)
from protocol.e2e import GroupHeader, Scope, decode_envelope
from protocol.methods import (
    AccountParams,
    AttachmentBeginParams,
    HistoryParams,
    KeysDistributeParams,
    KeysFetchParams,
    ThreadsOpenParams,
)
from protocol.model import Empty, ThreadKind
from protocol.practice import Rule, Template
from tests.support.server import RunningServer

__all__ = [
    "AGENDA",
    "DAY",
    "HOUR",
    "OUTSIDERS",
    "Change",
    "Secret",
    "World",
    "build_world",
    "changes",
    "leaks",
]

OUTSIDERS = ("U", "V", "Q", "R")
DAY = 86_400_000
HOUR = 3_600_000
AGENDA = AgendaSettings(
    time_zone="Europe/Paris",
    reasons=[VisitReason("consult", "Consultation", 30)],
    hours=[OpeningHours(day, "00:00", "24:00", ["consult"]) for day in range(7)],
    horizon_days=30,
    min_notice_minutes=60,
)
# Distinctive words: finding one where it does not belong can only be a leak.
PA_BORN = "1984-05-17"  # PA's date of birth: A finds her by it and her name
NAMES = {
    "A": "Dr Albane Kestrel",
    "PA": "Paloma Quixwell",
    "U": "Dr Ulla Quixwell",  # unverified: no search may find her
    "V": "Dr Victor Osei",
    "Q": "Quentin Marlowe",
}
RULE = Rule(
    name="Kestrel sabbatical",
    text="Away at the Halcyon retreat",
    starts=int(time.time() * 1000) + 300 * DAY,  # not active: it answers nobody
)
TEMPLATE = Template(name="Kestrel renewal reply", text="Dear {patient_first_name}, Larkspur")
APPOINTMENT_NOTE = "my Quixwell knee, left side"
EXCEPTION_NOTE = "Kestrel paperwork, Marigold file"

Rows = frozenset[tuple[Any, ...]]
Tables = dict[str, Rows]


@dataclass(frozen=True)
class Secret:
    """Something of the victim's an outsider must not learn: a word, or the
    id of one of their rows in ``table``."""

    label: str
    value: str | int
    table: str = ""


@dataclass
class World:
    server: RunningServer
    database: Path
    refs: dict[str, dict[int, str]]  # see ``references``
    doctor: Credentials  # A
    patient: Credentials  # PA
    assistant: Credentials  # S, A's delegate (read, reply)
    assistant_name: str  # S's display name (``assistant_of`` names them after their login)
    practice: int  # P: A and S
    thread: int  # T: PA and A
    message: int  # PA's, in T
    sender_key: bytes  # the id of the sender key PA's device sealed it with
    document: str  # a finished document in T
    upload: str  # PA's unfinished upload in T
    appointment: int  # PA's, with A
    free_slot: int  # a slot of A's agenda nobody holds
    exception: int  # a block in A's agenda
    rule: int
    template: int
    doctor_list: bytes  # A's signed device list, as published
    outsiders: dict[str, Credentials] = field(default_factory=dict)  # by kind

    def tables(self) -> Tables:
        """Every row of every table, every column: no call writes anything
        just for being made (``devices.last_seen_at`` is never written), so
        nothing is left out of the comparison, but the push queue's position
        (``stream_positions`` row ``push``): a background chore moves it as
        the stream grows, whoever called what."""
        with _read_only(self.database) as db:
            return {
                table: frozenset(
                    row
                    for row in db.execute(f'SELECT * FROM "{table}"')
                    if not (table == "stream_positions" and row[0] == "push")
                )
                for table in _tables(db)
            }

    def sessions_of(self, user_id: int) -> set[int]:
        """The ids of the user's sessions (tokens), ended or not."""
        with _read_only(self.database) as db:
            rows = db.execute("SELECT id FROM tokens WHERE user_id = ?", (user_id,))
            return {row[0] for row in rows}

    def secrets(self) -> list[Secret]:
        """The victim's private data. A is not in it: anyone finds a verified
        practitioner."""
        words = {
            "PA's name": NAMES["PA"],
            "S's name": self.assistant_name,
            "the rule's name": RULE.name,
            "the rule's text": RULE.text,
            "the template's name": TEMPLATE.name,
            "the template's text": TEMPLATE.text,
            "the appointment's note": APPOINTMENT_NOTE,
            "the exception's note": EXCEPTION_NOTE,
        }
        ids: dict[str, tuple[str | int, str]] = {
            "the document's id": (self.document, "files"),
            "the upload's id": (self.upload, "files"),
            "PA's id": (self.patient.user_id, "users"),
            "S's id": (self.assistant.user_id, "users"),
            "T's id": (self.thread, "threads"),
            "the message's id": (self.message, "messages"),
            "the appointment's id": (self.appointment, "appointments"),
            "the exception's id": (self.exception, "agenda_exceptions"),
            "the rule's id": (self.rule, "rules"),
            "the template's id": (self.template, "templates"),
            "the practice's id": (self.practice, "practices"),
        }
        return [Secret(label, word) for label, word in words.items()] + [
            Secret(label, value, table) for label, (value, table) in ids.items()
        ]

    def touches_victim(self, table: str, row: tuple[Any, ...]) -> bool:
        """Whether ``row`` is one of the victim's private rows or names one.
        A is left out: an outsider's own row may name a public practitioner
        (Q opting out of A's broadcasts)."""
        private = {(secret.table, secret.value) for secret in self.secrets() if secret.table}
        return any((target, row[i]) in private for i, target in self.refs[table].items())

    def sealed(self, sender: Credentials, acting_for: int | None = None) -> Sealed:
        """An envelope from ``sender`` into T, sealed for every device of its
        members and of the sender."""
        outgoing = Outgoing(
            self.thread,
            sender.user_id,
            Body(text="let me in"),
            self._devices_with(sender),
            acting_for=acting_for,
        )
        return seal_envelope(outgoing, self.server.keys[sender.device_id].device)

    def distribution(self, sender: Credentials) -> KeysDistributeParams:
        """A sender key of ``sender``'s device for T, sealed to the same devices."""
        device = self.server.keys[sender.device_id].device
        now = int(time.time() * 1000)
        return new_sender_key(self.thread, sender.user_id, device, self._devices_with(sender), now)[
            1
        ]

    def _devices_with(self, sender: Credentials) -> dict[int, bytes]:
        """Every device of T's members and of ``sender``: X25519 keys by device."""
        members = {self.doctor.user_id, self.patient.user_id, sender.user_id}
        return {
            keys.device.device: bytes(keys.device.enc.public_key)
            for keys in self.server.keys.values()
            if keys.user in members
        }

    async def outsider(self, name: str) -> Credentials:
        """The outsider of kind ``name`` (``OUTSIDERS``)."""
        if name not in self.outsiders:
            self.outsiders[name] = await self.stranger(name)
        return self.outsiders[name]

    def retire(self, name: str) -> None:
        """The next probe gets a new outsider of kind ``name``: what the
        server wrongly let this one do must not decide it."""
        self.outsiders.pop(name, None)

    async def stranger(self, name: str) -> Credentials:
        """A new outsider of kind ``name``, for one probe only."""
        server = self.server
        if name == "U":
            return await server.user("practitioner", NAMES["U"], verified=False)
        if name == "V":
            return await server.user("practitioner", NAMES["V"])
        if name == "Q":
            return await server.user("patient", NAMES["Q"])
        revoked = await server.assistant_of(self.doctor)
        async with server.secure(self.doctor) as desk:
            await desk.refresh([self.doctor.user_id])
            await desk.delegate(revoked.user_id, [Scope.READ, Scope.REPLY])
            await desk.revoke_delegate(revoked.user_id)
        return revoked


async def build_world(server: RunningServer, database: Path) -> World:
    doctor = await server.user("practitioner", NAMES["A"])
    patient = await server.user("patient", NAMES["PA"])
    async with server.client(patient) as own:
        await own.call("account.set", AccountParams(birth_date=PA_BORN))
    await server.add_patient(doctor, patient)
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant)
    async with server.client(doctor) as desk:
        await desk.call("agenda.set", AGENDA)
        rule = await desk.call("rules.add", RULE)
        template = await desk.call("templates.create", TEMPLATE)
        (practice,) = (await desk.call("practices.list", Empty())).practices
    async with server.secure(patient, sender_keys_above=0) as me:  # a sender key in T
        thread = await me.call(
            "threads.open",
            ThreadsOpenParams(
                ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], "prescription_renewal"
            ),
        )
        document = await me.upload(thread.id, b"%PDF renewal", "rx.pdf", "application/pdf")
        sent = await me.send(thread.id, "Could you renew it?", documents=[document])
        (stored,) = [
            m
            for m in (await me.call("messages.history", HistoryParams(thread.id))).messages
            if m.id == sent.message_id
        ]
        header = decode_envelope(stored.envelope)[1]
        assert isinstance(header, GroupHeader)
        upload = await me.call(
            "attachments.begin", AttachmentBeginParams(thread.id, 100, b"\x07" * 32)
        )
        now = int(time.time() * 1000)
        slots = (
            await me.call(
                "agenda.slots", SlotsParams(doctor.user_id, "consult", now + 2 * DAY, now + 4 * DAY)
            )
        ).slots  # two days ahead and more: no reminder falls due during the tests
        held = await me.call("booking.hold", HoldParams(doctor.user_id, "consult", slots[0]))
        booked = await me.call("booking.confirm", ConfirmParams(held.id, note=APPOINTMENT_NOTE))
    block = ExceptionParams(
        kind=ExceptionKind.BLOCK, starts_at=slots[-2], ends_at=slots[-1], note=EXCEPTION_NOTE
    )
    async with server.client(doctor) as desk:
        exception = await desk.call("agenda.add_exception", block)
        (published,) = (await desk.call("keys.fetch", KeysFetchParams([doctor.user_id]))).lists
    return World(
        server=server,
        database=database,
        refs=references(database),
        doctor=doctor,
        patient=patient,
        assistant=assistant,
        assistant_name=next(m.name for m in practice.members if m.user == assistant.user_id),
        practice=practice.id,
        thread=thread.id,
        message=sent.message_id,
        sender_key=header.sender_key,
        document=document.file,
        upload=upload.file,
        appointment=booked.id,
        free_slot=slots[1],
        exception=exception.id,
        rule=rule.id,
        template=template.id,
        doctor_list=published.list,
    )


# The database, read behind the server's back


@contextlib.contextmanager
def _read_only(database: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection: in WAL mode it sees every committed write."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        yield db
    finally:
        db.close()


def _tables(db: sqlite3.Connection) -> list[str]:
    query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    return sorted(name for (name,) in db.execute(query))


# Columns that name another table's rows without a declared foreign key.
_UNDECLARED = {
    "events": {"thread_id": "threads", "user_id": "users", "message_id": "messages"},
    "audit": {"actor_id": "users", "acting_for": "users", "user_id": "users", "rule_id": "rules"},
    "rule_firings": {"rule_id": "rules", "thread_id": "threads"},
}


def references(database: Path) -> dict[str, dict[int, str]]:
    """For each table, the positions of the columns that name a row (its
    ``id``, its foreign keys and the undeclared ones above) and that row's table."""
    found: dict[str, dict[int, str]] = {}
    with _read_only(database) as db:
        for table in _tables(db):
            columns = db.execute(f'PRAGMA table_info("{table}")')
            position = {column[1]: column[0] for column in columns}
            named = {position["id"]: table} if "id" in position else {}
            for key in db.execute(f'PRAGMA foreign_key_list("{table}")'):
                named[position[key[3]]] = key[2]
            for column, target in _UNDECLARED.get(table, {}).items():
                named[position[column]] = target
            found[table] = named
    return found


@dataclass(frozen=True)
class Change:
    table: str
    removed: Rows
    added: Rows

    def __str__(self) -> str:
        return f"{self.table}: -{sorted(map(repr, self.removed))} +{sorted(map(repr, self.added))}"


def changes(before: Tables, after: Tables) -> list[Change]:
    empty: Rows = frozenset()
    return [
        Change(table, before.get(table, empty) - rows, rows - before.get(table, empty))
        for table, rows in sorted(after.items())
        if rows != before.get(table, empty)
    ]


# Leaks

# Where an error's details hold a row's id, by key. An integer under a key
# of another table (or of none: a limit, a size) is not that row's id; an
# integer under a key not listed here is compared with every id.
DETAIL_TABLES = {
    "thread": "threads",
    "message": "messages",
    "id": "messages",
    "user": "users",
    "users": "users",
    "members": "users",
    "patient": "users",
    "patients": "users",
    "subject": "users",
    "delegate": "users",
    "acting_for": "users",
    "owner": "users",
    "practitioner": "users",
    "redirect_to": "users",
    "practice": "practices",
    "appointment": "appointments",
    "exception": "agenda_exceptions",
    "rule": "rules",
    "template": "templates",
    "devices": "devices",
    "missing": "devices",
    "unknown": "devices",
    "no_keys": "devices",
    **dict.fromkeys(["limit", "received", "size", "quota", "used", "seq", "last_seq"], ""),
    **dict.fromkeys(["retry_after_ms", "until", "status", "reason", "offered"], ""),
}


def _leaves(value: Any, key: object = None) -> Iterator[tuple[object, object]]:
    """Every scalar in ``value`` with the dict key it sits under; MessagePack
    inside bytes (a signed device list, an envelope) is read too."""
    if isinstance(value, msgspec.Struct):
        yield from _leaves(msgspec.to_builtins(value, builtin_types=(bytes,)), key)
    elif isinstance(value, Mapping):
        for inner, item in value.items():
            yield key, inner
            yield from _leaves(item, inner)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item, key)
    elif isinstance(value, bytes):
        with contextlib.suppress(msgspec.DecodeError):
            yield from _leaves(msgspec.msgpack.decode(value), key)
    elif not isinstance(value, bool):
        yield key, value


def _matches(leaf: object, secret: Secret) -> bool:
    if isinstance(secret.value, str):
        return isinstance(leaf, str) and secret.value in leaf
    return leaf == secret.value


def _named(asked: Any, secret: Secret) -> bool:
    """Whether the caller named ``secret`` themselves."""
    return any(_matches(leaf, secret) for _, leaf in _leaves(asked))


def _tells(said: Any, secret: Secret) -> bool:
    """Whether ``said`` holds ``secret``: text anywhere, a number under a key
    that may hold it."""
    return any(
        _matches(leaf, secret)
        and (isinstance(leaf, str) or DETAIL_TABLES.get(str(key), secret.table) == secret.table)
        for key, leaf in _leaves(said)
    )


def leaks(secrets: list[Secret], said: Any, asked: Any, *, ids: bool = True) -> list[str]:
    """The labels of ``secrets`` found in ``said`` that the caller did not
    name in ``asked`` (echoing the caller's words leaks nothing). Numeric
    ids are looked for in structured details (a message is prose); ``ids``
    off for an answer, full of the caller's own ids, which may equal the
    victim's in another table."""
    return [
        secret.label
        for secret in secrets
        if (ids or isinstance(secret.value, str))
        and not _named(asked, secret)
        and _tells(said, secret)
    ]
