"""The wire itself, through a raw ``websockets`` client (not the SDK): every
refused handshake gets its documented close code, every bad frame after
``welcome`` a typed error on a connection that keeps working, every
forbidden or excessive request a typed refusal that changes nothing; and
the HTTP endpoints answer bad requests with their status codes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from websockets import ConnectionClosed, Subprotocol
from websockets.asyncio.client import ClientConnection, connect

from clients import Credentials
from protocol.codec import SUBPROTOCOL
from protocol.errors import CloseCode
from tests.support.server import PASSWORD, RunningServer

TIMEOUT = 10.0


def pack(frame: Any) -> bytes:
    return msgspec.msgpack.encode(frame)


def hello(credentials: Credentials, **overrides: Any) -> dict[str, Any]:
    frame = {"t": "hello", "versions": [1], "token": credentials.token}
    return frame | {"device": credentials.device_id} | overrides


@contextlib.asynccontextmanager
async def raw(server: RunningServer, *, offer: bool = True) -> AsyncIterator[ClientConnection]:
    subprotocols = [Subprotocol(SUBPROTOCOL)] if offer else None
    async with connect(
        server.ws_url, subprotocols=subprotocols, max_size=None, ping_interval=None
    ) as ws:
        yield ws


async def receive(ws: ClientConnection, *kinds: str) -> dict[str, Any]:
    """The next frame whose ``t`` is one of ``kinds`` (pushes in between are skipped)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame: dict[str, Any] = msgspec.msgpack.decode(await ws.recv())
            if not kinds or frame["t"] in kinds:
                return frame


async def close_code(ws: ClientConnection) -> int:
    """Read until the server closes; its close code."""
    async with asyncio.timeout(TIMEOUT):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()
    assert ws.close_code is not None
    return ws.close_code


@contextlib.asynccontextmanager
async def greeted(
    server: RunningServer, credentials: Credentials
) -> AsyncIterator[ClientConnection]:
    async with raw(server) as ws:
        await ws.send(pack(hello(credentials)))
        welcome = await receive(ws)
        assert welcome["t"] == "welcome" and welcome["user"] == credentials.user_id
        ws.limits = welcome["limits"]  # type: ignore[attr-defined]
        yield ws


async def call(ws: ClientConnection, call_id: int, method: str, params: Any) -> dict[str, Any]:
    await ws.send(pack({"t": "call", "id": call_id, "method": method, "params": params}))
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame = await receive(ws, "result", "error")
            if frame.get("id") == call_id:
                return frame


def refused(frame: dict[str, Any], code: str) -> dict[str, Any]:
    assert frame["t"] == "error", frame
    assert frame["code"] == code, frame
    return frame


async def open_pair(server: RunningServer) -> tuple[Credentials, Credentials, int]:
    doctor, patient = await server.user("practitioner"), await server.user("patient")
    async with greeted(server, doctor) as ws:
        thread = await call(
            ws, 1, "threads.open", {"kind": "patient_practitioner"} | {"members": [patient.user_id]}
        )
    return doctor, patient, thread["value"]["id"]


# --- handshake ---------------------------------------------------------------


async def test_no_subprotocol_is_refused_with_4102(server: RunningServer) -> None:
    async with raw(server, offer=False) as ws:
        assert await close_code(ws) == CloseCode.UNSUPPORTED_VERSION


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        pytest.param("hello as text", CloseCode.BAD_HELLO, id="text-frame"),
        pytest.param(b"\xc1\xff\x00garbage", CloseCode.BAD_HELLO, id="garbage"),
        pytest.param(pack({"t": "ping", "ts": 1}), CloseCode.BAD_HELLO, id="not-a-hello"),
        pytest.param(pack({"t": "hello", "versions": [1]}), CloseCode.BAD_HELLO, id="no-token"),
        pytest.param("versions", CloseCode.UNSUPPORTED_VERSION, id="unknown-version"),
        pytest.param("token", CloseCode.UNAUTHORIZED, id="unknown-token"),
        pytest.param("device", CloseCode.UNAUTHORIZED, id="someone-elses-device"),
    ],
)
async def test_bad_hello_is_closed_with_its_code(
    server: RunningServer, first: str | bytes, expected: int
) -> None:
    me, other = await server.user(), await server.user()
    frames: dict[str, bytes] = {
        "versions": pack(hello(me, versions=[99])),
        "token": pack(hello(me, token="chb_" + "x" * 43)),
        "device": pack(hello(me, device=other.device_id)),
    }
    async with raw(server) as ws:
        await ws.send(frames.get(first, first) if isinstance(first, str) else first)
        assert await close_code(ws) == expected
    async with greeted(server, me):  # the server is unharmed
        pass


async def test_logout_closes_the_devices_socket_and_the_token_stops_working(
    server: RunningServer,
) -> None:
    me = await server.user()
    second = await server.other_device(me)
    async with greeted(server, me) as ws, greeted(server, second) as other:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            answer = await http.post("/v1/logout", headers={"authorization": f"Bearer {me.token}"})
        assert answer.status_code == 204
        assert await close_code(ws) == CloseCode.TOKEN_REVOKED
        pong = await call(other, 1, "threads.list", {})  # the other device is untouched
        assert pong["t"] == "result"
    async with raw(server) as ws:
        await ws.send(pack(hello(me)))
        assert await close_code(ws) == CloseCode.TOKEN_REVOKED


async def test_silence_is_timed_out_and_pings_keep_a_link_alive(make_server: Any) -> None:
    server = make_server(hello_timeout_seconds=0.5, heartbeat_seconds=0.4)
    me = await server.user()
    async with raw(server) as ws:  # no hello
        assert await close_code(ws) == CloseCode.HELLO_TIMEOUT
    async with greeted(server, me) as mute, greeted(server, me) as alive:
        for _ in range(4):  # answer four heartbeats, well past two intervals
            ping = await receive(alive, "ping")
            await alive.send(pack({"t": "pong", "ts": ping.get("ts", 0)}))
        assert await close_code(mute) == CloseCode.HEARTBEAT_TIMEOUT
        assert (await call(alive, 1, "threads.list", {}))["t"] == "result"


async def test_ping_is_answered_with_its_timestamp(server: RunningServer) -> None:
    async with greeted(server, await server.user()) as ws:
        await ws.send(pack({"t": "ping", "ts": 123456789}))
        assert await receive(ws, "pong") == {"t": "pong", "ts": 123456789}


# --- frames after welcome ----------------------------------------------------


async def test_bad_frames_get_typed_errors_and_the_link_keeps_working(
    server: RunningServer,
) -> None:
    async with greeted(server, await server.user()) as ws:
        limit = ws.limits["frame_bytes"]  # type: ignore[attr-defined]
        cases: list[tuple[str | bytes, int | None, str]] = [
            (b"\xc1", None, "invalid"),
            ("a text frame", None, "invalid"),
            (pack({"t": "teleport"}), None, "invalid"),
            (pack([1, 2, 3]), None, "invalid"),
            (pack({"t": "call", "id": 7, "method": "nope.nope"}), 7, "unknown_method"),
            (
                pack({"t": "call", "id": 8, "method": "threads.open", "params": {"kind": "x"}}),
                8,
                "invalid",
            ),
            (
                pack({"t": "call", "id": 9, "method": "typing", "params": {"pad": "x" * limit}}),
                9,
                "too_large",
            ),
            (pack({"t": "hello", "versions": [1], "token": "t", "device": 1}), None, "invalid"),
        ]
        for frame, call_id, code in cases:
            await ws.send(frame)
            error = refused(await receive(ws, "error", "result"), code)
            assert error["id"] == call_id, (frame[:40], error)
            assert error["message"]
        assert (await call(ws, 10, "threads.list", {}))["t"] == "result"


async def test_an_oversized_envelope_is_refused_and_not_stored(server: RunningServer) -> None:
    doctor, _, thread = await open_pair(server)
    async with greeted(server, doctor) as ws:
        size = ws.limits["envelope_bytes"] + 1  # type: ignore[attr-defined]
        params = {"thread": thread, "client_msg_id": "big", "envelope": b"\0" * size}
        error = refused(await call(ws, 1, "messages.send", params), "too_large")
        assert error["details"]["limit"] == size - 1
        history = await call(ws, 2, "messages.history", {"thread": thread})
        assert history["value"]["messages"] == []


async def test_a_frame_over_the_transport_cap_closes_1009_and_the_server_lives(
    server: RunningServer,
) -> None:
    me = await server.user()
    async with greeted(server, me) as ws:
        await ws.send(b"\0" * (2 * 1024 * 1024))
        assert await close_code(ws) == CloseCode.MESSAGE_TOO_BIG
    async with greeted(server, me) as ws:
        assert (await call(ws, 1, "threads.list", {}))["t"] == "result"


# --- who may do what ---------------------------------------------------------


async def test_a_stranger_can_neither_read_nor_write_nor_mark_a_thread(
    server: RunningServer,
) -> None:
    _, _, thread = await open_pair(server)
    stranger = await server.user()
    async with greeted(server, stranger) as ws:
        attempts = [
            ("messages.send", {"thread": thread, "client_msg_id": "x", "envelope": b"hi"}),
            ("messages.history", {"thread": thread}),
            ("receipts.read", {"thread": thread, "seq": 1}),
            ("typing", {"thread": thread}),
        ]
        for call_id, (method, params) in enumerate(attempts, 1):
            error = refused(await call(ws, call_id, method, params), "forbidden")
            assert error["details"]["thread"] == thread
        listed = await call(ws, 9, "threads.list", {})
        assert listed["value"]["threads"] == []


async def test_thread_open_refusals(server: RunningServer) -> None:
    patient, other_patient = await server.user(), await server.user()
    async with greeted(server, patient) as ws:
        pair = {"kind": "patient_practitioner", "members": [other_patient.user_id]}
        refused(await call(ws, 1, "threads.open", pair), "forbidden")
        ghost = {"kind": "patient_practitioner", "members": [10**9]}
        assert refused(await call(ws, 2, "threads.open", ghost), "not_found")["details"] == {
            "users": [10**9]
        }


async def test_a_receipt_past_the_last_message_is_invalid(server: RunningServer) -> None:
    doctor, _, thread = await open_pair(server)
    async with greeted(server, doctor) as ws:
        sent = await call(
            ws,
            1,
            "messages.send",
            {"thread": thread} | {"client_msg_id": "one", "envelope": b"ciphertext"},
        )
        assert sent["value"]["thread_seq"] == 1
        error = refused(await call(ws, 2, "receipts.read", {"thread": thread, "seq": 2}), "invalid")
        assert error["details"]["last_seq"] == 1


async def test_sends_over_the_rate_are_refused_and_leave_nothing(make_server: Any) -> None:
    server = make_server(sends_per_second=0.5, send_burst=2)
    doctor, _, thread = await open_pair(server)
    async with greeted(server, doctor) as ws:
        answers = [
            await call(
                ws,
                n,
                "messages.send",
                {"thread": thread} | {"client_msg_id": f"m{n}", "envelope": b"x"},
            )
            for n in range(1, 4)
        ]
        assert [a["t"] for a in answers] == ["result", "result", "error"]
        error = refused(answers[2], "rate_limited")
        assert error["details"]["retry_after_ms"] > 0
        history = await call(ws, 9, "messages.history", {"thread": thread})
        assert [m["client_msg_id"] for m in history["value"]["messages"]] == ["m2", "m1"]


# --- HTTP --------------------------------------------------------------------


async def test_http_refusals(server: RunningServer) -> None:
    me = await server.user()
    username = server.usernames[me.user_id]
    other = await server.user()
    account = {"password": PASSWORD, "display_name": "X", "role": "patient"}
    cases: list[tuple[str, Any, dict[str, str], int, str]] = [
        ("/v1/register", account | {"username": username}, {}, 409, "conflict"),
        ("/v1/register", account | {"username": "a b"}, {}, 400, "invalid"),
        ("/v1/register", account | {"username": "boss1", "role": "admin"}, {}, 403, "forbidden"),
        (
            "/v1/login",
            {"username": username, "password": "wrong password"},
            {},
            401,
            "unauthorized",
        ),
        (
            "/v1/login",
            {"username": username, "password": PASSWORD, "device_id": other.device_id},
            {},
            403,
            "forbidden",
        ),
        ("/v1/logout", {}, {"authorization": "Bearer chb_nothing"}, 401, "unauthorized"),
        ("/v1/login", {"username": "x" * 20_000, "password": PASSWORD}, {}, 413, "too_large"),
    ]
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for path, body, headers, status, code in cases:
            answer = await http.post(path, json=body, headers=headers)
            assert answer.status_code == status, (path, body, answer.text)
            assert answer.json()["code"] == code, answer.text
        broken = await http.post("/v1/login", content=b"{not json", headers={})
        assert broken.status_code == 400
