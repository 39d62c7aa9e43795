"""Fuzzing the real socket: every method's parameters, every client frame,
random and mangled bytes, and first frames, with values built from the
protocol's own types (``tests.support.strategies``).

Whatever arrives, the server answers each call with a ``result`` or a typed
``error``, never ``internal`` nor ``unavailable`` (the store is up), keeps
the connection open (or closes it for a documented reason), and logs no
error. Calls are made as a patient, a verified practitioner, an unverified
one, an assistant the practitioner delegated everything to, and an admin,
with ids that often name real objects (the caller's thread, someone else's,
real users, an appointment, a rule, a template, an upload), so the handlers
run past validation. Each method gets a sweep of every edge value of every
field as every role (rare values are not left to chance) and random draws.

A failure names the method, the role and the parameters, and quotes the
answer and the server's log. Hypothesis tells failures apart by exception
type, so each kind of fault (the error code or close code, and the exception
the server logged) raises a type of its own: distinct bugs are reported
separately rather than as the first one found."""

from __future__ import annotations

import asyncio
import itertools
import re
import reprlib
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets import ConnectionClosed, Subprotocol
from websockets.sync.client import ClientConnection, connect

from clients import Client, Credentials, login
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
from protocol.codec import SUBPROTOCOL
from protocol.e2e import Scope
from protocol.errors import CloseCode
from protocol.frames import ClientFrame, Hello
from protocol.methods import METHODS, AttachmentBeginParams, HistoryParams, ThreadsOpenParams
from protocol.model import ThreadKind
from protocol.practice import RelativeParams, Rule, Template
from tests.support.server import PASSWORD, RunningServer, start_server
from tests.support.strategies import (
    TIME_ZONES,
    Pools,
    edge_cases,
    encode,
    mutated,
    valid_values,
    values,
)

TIMEOUT = 10.0
DAY = 86_400_000
# Calls are fuzzed far faster than the default rate limits allow; a long
# heartbeat keeps the sockets of roles that wait for their turn open.
FAST = 100_000
HEARTBEAT_SECONDS = 3_600
ROLES = ("patient", "practitioner", "unverified", "assistant", "admin")
FAULTS = {"internal", "unavailable"}  # the store is up: neither has an excuse
# Closes a fuzzing client can cause on purpose: its delegation changed (a
# fuzzed call as the practitioner touched the practice).
# A delegation changed, or the call ended its own session (account.end_session).
EXPECTED_CLOSES = {CloseCode.ACCESS_CHANGED, CloseCode.TOKEN_REVOKED}
HANDSHAKE_CLOSES = {
    CloseCode.BAD_HELLO,
    CloseCode.UNSUPPORTED_VERSION,
    CloseCode.UNAUTHORIZED,
    CloseCode.TOKEN_REVOKED,
}
LOGGED_FAULT = re.compile(r"\b(ERROR|CRITICAL)\b|^Traceback")
EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))\b")
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays deterministic
    database=None,
    # ``restored`` is function-scoped on purpose: the world is put back once
    # per test, and the examples of a test build on one another's state.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FUZZ_FRAMES = settings(FUZZ, max_examples=300)

Close = tuple[int, str] | None  # (code, reason) when the server closed the socket

_shown = reprlib.Repr()
_shown.maxstring = 160
_shown.maxother = 48  # bytes: an envelope must not hide the fields after it
_shown.maxlist = _shown.maxdict = 12
_shown.maxlevel = 6


# --- faults --------------------------------------------------------------------


class ServerFault(AssertionError):
    """The server answered, closed or logged what it never should."""


@cache
def fault_type(kind: str, cause: str) -> type[ServerFault]:
    """One exception type per kind of fault and exception logged, which is
    how Hypothesis tells distinct bugs apart."""
    return type(f"ServerFault[{kind}: {cause}]", (ServerFault,), {})


@dataclass(frozen=True)
class Outcome:
    """What one fuzzed frame got back."""

    frames: list[dict[str, Any]]
    close: Close
    log: list[str]  # the server's new log lines, when one of them is an error

    def kind(self, call_id: int | None, closes: set[CloseCode]) -> str | None:
        """The kind of fault, if any."""
        codes = [f.get("code") for f in self.frames if f.get("t") == "error"]
        if faulty := [c for c in codes if c in FAULTS]:
            return str(faulty[0])
        if self.close is not None and self.close[0] not in closes:
            return f"close {self.close[0]}"
        if self.log:
            return "logged error"
        if call_id is not None and self.close is None and not self._answers(call_id):
            return "unanswered call"
        return None

    def _answers(self, call_id: int) -> bool:
        """Whether the call was answered, or its frame refused as unreadable
        (nested too deep to find the id, say: the error's id is then null)."""
        ids = {f.get("id") for f in self.frames if f.get("t") in ("result", "error")}
        return call_id in ids or None in ids

    def cause(self) -> str:
        """The first (root) exception the server logged, long numbers and quotes blurred."""
        raised = [line for line in self.log if EXCEPTION_LINE.match(line)]
        if not raised:
            return "nothing logged"
        return re.sub(r"\d{3,}", "N", re.sub(r"'[^']*'", "'...'", raised[0]))[:100]

    def report(self, what: str) -> str:
        answers = [f for f in self.frames if f.get("t") in ("result", "error")]
        log = "\n    ".join(digest(self.log)) or "(nothing)"
        return (
            f"{what}\n  answer: {_shown.repr(answers)}\n  closed: {self.close}\n  log:\n    {log}"
        )

    def fault(self, what: str, call_id: int | None, closes: set[CloseCode]) -> ServerFault | None:
        kind = self.kind(call_id, closes)
        return None if kind is None else fault_type(kind, self.cause())(self.report(what))


def digest(log: list[str], most: int = 40) -> list[str]:
    """Log lines, tracebacks without the libraries' frames and the source lines."""
    kept = [
        line
        for line in log
        if line.strip()
        and (not line.startswith(" ") or ('File "' in line and "site-packages" not in line))
    ]
    return kept if len(kept) <= most else [*kept[: most // 2], "...", *kept[-most // 2 :]]


def summary(kind: str, faults: list[ServerFault], most: int = 12) -> str:
    """The calls that met one kind of fault, and the first one in full."""
    calls = [str(fault).splitlines()[0] for fault in faults]
    listed = "\n  ".join(calls[:most] + ([f"... {len(calls) - most} more"] if calls[most:] else []))
    return f"{kind}, {len(faults)} times:\n  {listed}\nThe first in full:\n{faults[0]}"


def raise_if(fault: ServerFault | None) -> None:
    if fault is not None:
        raise fault


class LogTail:
    """The server log's lines since the last look, when one of them is an error."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, path.stat().st_size

    def errors(self) -> list[str]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            new = log.read()
        self.offset += len(new)
        lines = new.decode(errors="replace").splitlines()
        return lines if any(LOGGED_FAULT.search(line) for line in lines) else []


# --- the world the fuzzed calls run in -------------------------------------------


AGENDA = AgendaSettings(
    reasons=[VisitReason("consult", "Consultation", 15)],
    hours=[OpeningHours(day, "00:00", "24:00", ["consult"]) for day in range(7)],
)


@dataclass
class World:
    """Who calls, the real objects their ids may name, and the practitioner's
    calls that put back what fuzzing wears away (agenda, inbox, open thread)."""

    roles: dict[str, Credentials]
    pools: Pools
    restore: list[tuple[str, Any]]


async def build_world(server: RunningServer) -> World:
    """Two practitioners and a patient of each in a thread, an assistant the
    first delegated everything to, an unverified practitioner, an admin, and
    the objects the pools name."""
    doctor, patient, thread = await server.patient_thread()
    other_doctor, other_patient, other_thread = await server.patient_thread()
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant, list(Scope))
    roles = {
        "patient": patient,
        "practitioner": doctor,
        "unverified": await server.user("practitioner", verified=False),
        "assistant": assistant,
        "admin": await server.admin(),
    }
    async with server.client(doctor) as desk:
        objects = await practice_objects(desk, [patient.user_id, other_doctor.user_id])
    async with server.client(patient) as me:
        objects |= await patient_objects(me, doctor, thread)
    people = [doctor, patient, other_doctor, other_patient, assistant]
    users = [p.user_id for p in people] + objects.pop("relatives")
    threads = [thread, other_thread, *objects.pop("group")]
    readers = [doctor.user_id, patient.user_id, assistant.user_id]
    pools: dict[str, list[Any]] = {
        **dict.fromkeys(USER_FIELDS, users),
        **objects,
        "thread": threads,
        "reason": ["consult", "prescription_renewal", "exam_results"],
        "time_zone": list(TIME_ZONES),
        "timezone": list(TIME_ZONES),
        "method": sorted(METHODS),
        "token": [patient.token, doctor.token],
        "device": [patient.device_id, doctor.device_id],
        "SendParams": [send_params(server, who, thread, readers) for who in (doctor, patient)],
    }
    restore = [
        ("agenda.set", msgspec.to_builtins(AGENDA)),
        ("inbox.set", {}),
        ("threads.reopen", {"thread": thread}),
    ]
    return World(roles, pools, restore)


USER_FIELDS = (
    "user",
    "users",
    "members",
    "patients",
    "patient",
    "practitioner",
    "subject",
    "redirect_to",
    "exempt",
    "accept_list",
    "owner",
)


def send_params(
    server: RunningServer, sender: Credentials, thread: int, readers: list[int]
) -> dict[str, Any]:
    """A ``messages.send`` that goes through: sealed for every reader's device."""
    sealed = server.envelope(sender, thread, readers, "fuzz")
    return {"thread": thread, "client_msg_id": sealed.msg_id.hex(), "envelope": sealed.data}


async def practice_objects(desk: Client, group: list[int]) -> dict[str, list[Any]]:
    """A verified practitioner's agenda (open all week), rule, template, block
    of time and group thread (with ``group``), and their practice."""
    now = int(time.time() * 1000)
    opened = await desk.call("threads.open", ThreadsOpenParams(ThreadKind.GROUP, group))
    await desk.call("agenda.set", AGENDA)
    away = Rule(name="Away", text="Back soon", starts=now + 30 * DAY, ends=now + 31 * DAY)
    rule = await desk.call("rules.add", away)
    template = await desk.call(
        "templates.create", Template(name="Hi", text="Hello {patient_first_name}")
    )
    block = ExceptionParams(
        kind=ExceptionKind.BLOCK, starts_at=now + 60 * DAY, ends_at=now + 61 * DAY
    )
    exception = await desk.call("agenda.add_exception", block)
    practices = await desk.call("practices.list")
    return {
        "group": [opened.id],
        "rule": [rule.id],
        "Rule.id": [rule.id],
        "template": [template.id],
        "Template.id": [template.id],
        "exception": [exception.id],
        "practice": [p.id for p in practices.practices],
        "Template.practice": [p.id for p in practices.practices],
    }


async def patient_objects(me: Client, doctor: Credentials, thread: int) -> dict[str, list[Any]]:
    """A patient's relative, a confirmed appointment and a held one, an
    unfinished upload, and the messages of their thread."""
    now = int(time.time() * 1000)
    relative = await me.call("relatives.add", RelativeParams("Kid", "child", "yes"))
    found = await me.call(
        "agenda.slots", SlotsParams(doctor.user_id, "consult", now, now + 7 * DAY)
    )
    slots: list[int] = found.slots[200:204]  # a few days ahead: past the cancellation notice
    confirmed = await me.call("booking.hold", HoldParams(doctor.user_id, "consult", slots[0]))
    await me.call("booking.confirm", ConfirmParams(confirmed.id))
    held = await me.call("booking.hold", HoldParams(doctor.user_id, "consult", slots[1]))
    upload = await me.call("attachments.begin", AttachmentBeginParams(thread, 100, bytes(32)))
    history = await me.call("messages.history", HistoryParams(thread))
    return {
        "relatives": [relative.user],
        "appointment": [confirmed.id, held.id],
        "starts_at": slots,
        "ends_at": [s + DAY for s in slots],
        "file": [upload.file],
        "message": [m.id for m in history.messages],
        "seq": [1, 2],
    }


# --- sockets ----------------------------------------------------------------------


def open_socket(server: RunningServer) -> ClientConnection:
    return connect(
        server.ws_url,
        subprotocols=[Subprotocol(SUBPROTOCOL)],
        max_size=None,
        ping_interval=None,
        open_timeout=TIMEOUT,
    )


def decode(data: str | bytes) -> dict[str, Any]:
    assert isinstance(data, bytes), f"a text frame from the server: {data!r}"
    frame: dict[str, Any] = msgspec.msgpack.decode(data)
    return frame


def closed_with(closed: ConnectionClosed) -> tuple[int, str]:
    """The code and reason the server closed with (1006: it sent no close frame)."""
    return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (1006, "no close frame")


class Link:
    """A raw socket past ``welcome``, opened again after a documented close."""

    def __init__(self, server: RunningServer, credentials: Credentials) -> None:
        self.server, self.credentials = server, credentials
        self.sockets = ExitStack()
        self.ws = self._greeted()

    def _greeted(self) -> ClientConnection:
        ws = self.sockets.enter_context(open_socket(self.server))
        hello = Hello([1], self.credentials.token, self.credentials.device_id)
        ws.send(msgspec.msgpack.encode(hello))
        welcome = decode(ws.recv(TIMEOUT))
        assert welcome["t"] == "welcome", welcome
        return ws

    def exchange(self, frame: bytes | str, ts: int) -> tuple[list[dict[str, Any]], Close]:
        """Send ``frame``, then a ping: every frame that came before the pong,
        and how the server closed the socket if it did."""
        frames: list[dict[str, Any]] = []
        pong = {"t": "pong", "ts": ts}
        try:
            self.ws.send(frame)
            self.ws.send(encode({"t": "ping", "ts": ts}))
            while (answer := decode(self.ws.recv(TIMEOUT))) != pong:
                frames.append(answer)
        except ConnectionClosed as closed:
            self.close()
            if closed_with(closed)[0] == CloseCode.TOKEN_REVOKED:
                self._log_in_again()
            self.ws = self._greeted()
            return frames, closed_with(closed)
        return frames, None

    def _log_in_again(self) -> None:
        """A new session on the same device, the fuzzed call having ended the last."""
        username = self.server.usernames[self.credentials.user_id]
        device = self.credentials.device_id
        self.credentials = asyncio.run(
            login(self.server.base_url, username, PASSWORD, device_id=device)
        )

    def close(self) -> None:
        self.sockets.close()


class Fuzzer:
    """One server, one long-lived socket per role, and the checks."""

    def __init__(self, server: RunningServer, world: World) -> None:
        self.server, self.world = server, world
        self.links = {role: Link(server, who) for role, who in world.roles.items()}
        self.log = LogTail(server.log)
        self.ids = itertools.count(1)
        self.pings = itertools.count(10**15)  # far from any ts a fuzzed ping carries
        self._strategies: dict[tuple[Any, bool], st.SearchStrategy[Any]] = {}

    def values(self, tp: Any, *, valid: bool = False) -> st.SearchStrategy[Any]:
        """Values for the type ``tp`` drawing on this world's pools (built once)."""
        if (tp, valid) not in self._strategies:
            build = valid_values if valid else values
            self._strategies[tp, valid] = build(tp, self.world.pools)
        return self._strategies[tp, valid]

    def call(self, role: str, method: str, params: Any) -> ServerFault | None:
        call_id = next(self.ids)
        frame = encode({"t": "call", "id": call_id, "method": method, "params": params})
        what = f"{method} as {role}, params {_shown.repr(params)}"
        fault = self._check(role, frame, what, call_id)
        if method == "admin.deactivate":  # a role the admin deactivated is one no more
            reactivate = encode(
                {"t": "call", "id": 0, "method": "admin.reactivate", "params": params}
            )
            self.links["admin"].exchange(reactivate, next(self.pings))
        return fault

    def frame(self, role: str, frame: bytes | str, shown: Any) -> ServerFault | None:
        """``frame`` (``shown`` before it was encoded) on an open socket."""
        return self._check(role, frame, f"a frame as {role}: {_shown.repr(shown)}", None)

    def _check(
        self, role: str, frame: bytes | str, what: str, call_id: int | None
    ) -> ServerFault | None:
        frames, close = self.links[role].exchange(frame, next(self.pings))
        self.world.roles[role] = self.links[
            role
        ].credentials  # a new session, if it logged in again
        return Outcome(frames, close, self.log.errors()).fault(what, call_id, EXPECTED_CLOSES)

    def first_frame(self, frame: bytes | str) -> ServerFault | None:
        """``frame`` as the first of a new socket: a welcome or a handshake close."""
        frames: list[dict[str, Any]] = []
        close: Close = None
        with open_socket(self.server) as ws:
            ws.send(frame)
            try:
                frames.append(decode(ws.recv(TIMEOUT)))
            except ConnectionClosed as closed:
                close = closed_with(closed)
        outcome = Outcome(frames, close, self.log.errors())
        what = f"a first frame: {_shown.repr(frame)}"
        if frames and frames[0].get("t") != "welcome":  # nothing else may answer a hello
            return fault_type("not a welcome", outcome.cause())(outcome.report(what))
        return outcome.fault(what, None, HANDSHAKE_CLOSES)

    def restore(self) -> None:
        """Put back the practitioner's agenda, inbox and open thread, and an
        assistant they delegate to, which earlier fuzzed calls may have undone."""
        for method, params in self.world.restore:
            raise_if(self.call("practitioner", method, params))
        if not self._delegated():
            asyncio.run(self._new_assistant())

    async def _new_assistant(self) -> None:
        """The assistant left the practice: another one takes the role."""
        doctor = self.world.roles["practitioner"]
        assistant = await self.server.assistant_of(doctor)
        await self.server.delegate(doctor, assistant, list(Scope))
        self.links["assistant"].close()
        self.world.roles["assistant"] = assistant
        self.links["assistant"] = Link(self.server, assistant)

    def _delegated(self) -> bool:
        call_id = next(self.ids)
        frame = encode({"t": "call", "id": call_id, "method": "delegations.list", "params": {}})
        frames, _ = self.links["practitioner"].exchange(frame, next(self.pings))
        answer: dict[str, Any] = next((f for f in frames if f.get("id") == call_id), {})
        assistant = self.world.roles["assistant"].user_id
        delegations = answer.get("value", {}).get("given", [])
        return any(delegation["delegate"] == assistant for delegation in delegations)

    def close(self) -> None:
        for link in self.links.values():
            link.close()


@pytest.fixture(scope="module")
def fuzzer(database_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzer]:
    server = start_server(
        database_factory(),
        tmp_path_factory.mktemp("fuzz"),
        calls_per_second=FAST,
        call_burst=FAST,
        sends_per_second=FAST,
        send_burst=FAST,
        logins_per_username_per_minute=FAST,  # a role whose session a call ended logs in again
        heartbeat_seconds=HEARTBEAT_SECONDS,
    )
    try:
        fuzzer = Fuzzer(server, asyncio.run(build_world(server)))
        yield fuzzer
        fuzzer.close()
    finally:
        server.stop()


@pytest.fixture
def restored(fuzzer: Fuzzer) -> Fuzzer:
    """The fuzzer, its world's key state put back (once per test, not per example)."""
    fuzzer.restore()
    return fuzzer


# --- the fuzz tests ---------------------------------------------------------------

roles = st.sampled_from(ROLES)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_method_survives_every_edge(restored: Fuzzer, method: str) -> None:
    """Each edge value of each field in turn, as each role (no randomness)."""
    cases = edge_cases(METHODS[method].params, restored.world.pools)
    faults = [restored.call(role, method, params) for role in ROLES for params in cases]
    by_kind: dict[str, list[ServerFault]] = {}
    for fault in filter(None, faults):
        by_kind.setdefault(type(fault).__name__, []).append(fault)
    if by_kind:
        pytest.fail("\n\n".join(summary(kind, found) for kind, found in by_kind.items()))


@pytest.mark.parametrize("method", sorted(METHODS))
@FUZZ
@given(data=st.data())
def test_a_method_survives_any_params(restored: Fuzzer, method: str, data: st.DataObject) -> None:
    role = data.draw(roles, "role")
    params = data.draw(restored.values(METHODS[method].params), "params")
    raise_if(restored.call(role, method, params))


@FUZZ_FRAMES
@given(data=st.data())
def test_any_client_frame_is_answered(fuzzer: Fuzzer, data: st.DataObject) -> None:
    frame = data.draw(fuzzer.values(ClientFrame), "frame")
    raise_if(fuzzer.frame(data.draw(roles, "role"), encode(frame), frame))


@FUZZ_FRAMES
@given(data=st.data())
def test_random_bytes_are_answered(fuzzer: Fuzzer, data: st.DataObject) -> None:
    frame = data.draw(st.one_of(st.binary(max_size=200), st.text(max_size=40)), "frame")
    raise_if(fuzzer.frame(data.draw(roles, "role"), frame, frame))


@FUZZ_FRAMES
@given(data=st.data())
def test_mangled_calls_are_answered(fuzzer: Fuzzer, data: st.DataObject) -> None:
    method = data.draw(st.sampled_from(sorted(METHODS)), "method")
    params = data.draw(fuzzer.values(METHODS[method].params, valid=True), "params")
    call = encode({"t": "call", "id": 7, "method": method, "params": params})
    frame = data.draw(mutated(st.just(call)), "frame")
    raise_if(fuzzer.frame(data.draw(roles, "role"), frame, frame))


@FUZZ
@given(data=st.data())
def test_any_first_frame_is_welcomed_or_refused(fuzzer: Fuzzer, data: st.DataObject) -> None:
    hello = encode(data.draw(fuzzer.values(Hello, valid=True), "hello"))
    frames = st.one_of(
        fuzzer.values(ClientFrame).map(encode), mutated(st.just(hello)), st.binary(max_size=100)
    )
    raise_if(fuzzer.first_frame(data.draw(frames, "frame")))
