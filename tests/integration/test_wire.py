"""The wire itself, through a raw ``websockets`` client (not the SDK): every
refused handshake gets its documented close code, every bad frame after
``welcome`` a typed error on a connection that keeps working, every
forbidden or excessive request a typed refusal that changes nothing; and
the HTTP endpoints answer bad requests with their status codes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from clients import login
from protocol.errors import CloseCode
from server.settings import Settings
from tests.support.server import PASSWORD, RunningServer
from tests.support.wire import (
    call_frame,
    close_code,
    greeted,
    hello,
    http_client,
    ok,
    pack,
    padded_call,
    raw,
    refused,
    send_params,
)

# --- handshake ---------------------------------------------------------------


async def test_no_subprotocol_is_refused_with_4102(server: RunningServer) -> None:
    async with raw(server, offer=False) as ws:
        assert await close_code(ws) == CloseCode.UNSUPPORTED_VERSION


async def test_deflate_is_not_negotiated(server: RunningServer) -> None:
    """Browsers offer per-message deflate; frames are ciphertext, and a
    deflate context would cost the server 33.5 KiB a link."""
    me = await server.user()
    async with greeted(server, me) as link:  # the client offers permessage-deflate
        assert link.ws.response is not None
        assert "Sec-WebSocket-Extensions" not in link.ws.response.headers
        assert ok(await link.call(1, "threads.list", {})) == {"threads": []}


async def test_a_websocket_to_another_path_is_refused(server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as refused_handshake:
        await connect(server.ws_url.replace("/ws", "/elsewhere"), open_timeout=10)
    assert refused_handshake.value.response.status_code == 403


async def test_bad_hello_is_closed_with_its_code(server: RunningServer) -> None:
    me, other = await server.user(), await server.user()
    cases: dict[str, tuple[str | bytes, int]] = {
        "text frame": ("hello as text", CloseCode.BAD_HELLO),
        "garbage": (b"\xc1\xff\x00garbage", CloseCode.BAD_HELLO),
        "empty": (b"", CloseCode.BAD_HELLO),
        "deep nesting": (b"\x91" * 50_000 + b"\xc0", CloseCode.BAD_HELLO),
        "a ping": (pack({"t": "ping", "ts": 1}), CloseCode.BAD_HELLO),
        "a call": (call_frame(1, "threads.list", {}), CloseCode.BAD_HELLO),
        "no token": (pack({"t": "hello", "versions": [1]}), CloseCode.BAD_HELLO),
        "token over 512": (pack(hello(me, token="x" * 513)), CloseCode.BAD_HELLO),
        "negative resume_from": (pack(hello(me, resume_from=-1)), CloseCode.BAD_HELLO),
        "unknown version": (pack(hello(me, versions=[99])), CloseCode.UNSUPPORTED_VERSION),
        "no version": (pack(hello(me, versions=[])), CloseCode.UNSUPPORTED_VERSION),
        "unknown token": (pack(hello(me, token="chb_" + "x" * 43)), CloseCode.UNAUTHORIZED),
        "another's device": (pack(hello(me, device=other.device_id)), CloseCode.UNAUTHORIZED),
        "another's token": (pack(hello(other, device=me.device_id)), CloseCode.UNAUTHORIZED),
    }
    for case, (first, expected) in cases.items():
        async with raw(server) as ws:
            await ws.send(first)
            assert await close_code(ws) == expected, case
    async with greeted(server, me) as link:  # the server and the credentials are unharmed
        ok(await link.call(1, "threads.list", {}))


async def test_welcome_describes_the_link(server: RunningServer) -> None:
    """``v`` is the highest common version; ``limits`` are the server's settings."""
    me = await server.user("practitioner")
    before = int(time.time() * 1000)
    async with greeted(server, me, versions=[1, 99], client="wire-test/1") as link:
        welcome = link.welcome
    settings = Settings.load()  # the test servers see the same CAREHUB_* environment
    assert welcome["v"] == 1
    assert (welcome["role"], welcome["device"]) == ("practitioner", me.device_id)
    assert isinstance(welcome["session"], str) and welcome["session"]
    assert before - 5_000 <= welcome["server_time"] <= time.time() * 1000 + 5_000
    assert isinstance(welcome["cursor"], int) and welcome["cursor"] >= 0
    assert welcome["heartbeat_ms"] == int(settings.heartbeat_seconds * 1000)
    assert not welcome.get("resumed", False)
    assert welcome["limits"] == {
        "frame_bytes": settings.max_frame_bytes,
        "envelope_bytes": settings.max_envelope_bytes,
        "calls_per_second": settings.calls_per_second,
        "call_burst": settings.call_burst,
        "sends_per_second": settings.sends_per_second,
        "send_burst": settings.send_burst,
        "history_page": settings.history_page,
    }


async def test_version_2_packs_a_backlog_into_few_messages_and_version_1_never(
    server: RunningServer,
) -> None:
    """The same backlog, replayed to a link of each version: the same frames
    in the same order; from version 2, after a welcome alone, several frames
    share a message (a MessagePack array)."""
    doctor, patient, thread = await server.patient_thread()
    members = [doctor.user_id, patient.user_id]
    async with greeted(server, patient) as before:
        cursor = before.welcome["cursor"]
    async with greeted(server, doctor) as link:
        for call_id in range(6):
            sent = send_params(server, doctor, thread, members)
            ok(await link.call(call_id, "messages.send", sent))
    replayed = {}
    for versions in ([1], [1, 2]):
        async with raw(server) as ws:
            await ws.send(pack(hello(patient, versions=versions, resume_from=cursor)))
            welcome = msgspec.msgpack.decode(await ws.recv())
            assert (welcome["t"], welcome["v"]) == ("welcome", max(versions))
            replayed[welcome["v"]] = await _messages_until(ws, "message.new", 6)
    one_each, packed = replayed[1], replayed[2]
    assert all(isinstance(message, dict) for message in one_each)
    frames = [frame for message in packed for frame in _frames_of(message)]
    one_by_one = _durable(one_each)  # up to the sixth message, read last
    assert _durable(frames)[: len(one_by_one)] == one_by_one
    assert len(packed) < len(frames)


def _frames_of(message: Any) -> list[dict[str, Any]]:
    return message if isinstance(message, list) else [message]


def _durable(frames: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(frame["type"], frame["seq"]) for frame in frames if "seq" in frame]


async def _messages_until(ws: Any, event_type: str, count: int) -> list[Any]:
    """The messages read until ``count`` events of ``event_type`` came."""
    messages: list[Any] = []
    async with asyncio.timeout(10):
        while count > 0:
            messages.append(msgspec.msgpack.decode(await ws.recv()))
            count -= sum(frame.get("type") == event_type for frame in _frames_of(messages[-1]))
    return messages


async def test_resuming_from_the_future_gets_sync_reset_first(server: RunningServer) -> None:
    """A cursor newer than the server's newest seq (a restore) cannot be resumed."""
    async with greeted(server, await server.user(), resume_from=2**40) as link:
        assert link.welcome["resumed"] is True
        reset = await link.receive()
        assert reset["t"] == "event" and reset["type"] == "sync.reset", reset
        assert reset["data"] == {"cursor": link.welcome["cursor"]}
        assert "seq" not in reset  # ephemeral
        ok(await link.call(1, "threads.list", {}))


async def test_logout_closes_the_devices_socket_and_the_token_stops_working(
    server: RunningServer,
) -> None:
    me = await server.user()
    second = await server.other_device(me)
    async with greeted(server, me) as link, greeted(server, second) as other:
        async with http_client(server) as http:
            answer = await http.post("/v1/logout", headers={"authorization": f"Bearer {me.token}"})
        assert answer.status_code == 204
        assert await link.close_code() == CloseCode.TOKEN_REVOKED
        ok(await other.call(1, "threads.list", {}))  # the other device is untouched
    async with raw(server) as ws:
        await ws.send(pack(hello(me)))
        assert await close_code(ws) == CloseCode.TOKEN_REVOKED
    # Something changed (a new login on the same device): the device is back.
    username = server.usernames[me.user_id]
    again = await login(server.base_url, username, PASSWORD, device_id=me.device_id)
    assert again.device_id == me.device_id and again.token != me.token
    async with greeted(server, again) as link:
        ok(await link.call(1, "threads.list", {}))


async def test_logging_out_one_token_leaves_the_devices_other_tokens_alone(
    server: RunningServer,
) -> None:
    """A revoked token is refused (401) and closes nothing; a valid token
    closes only the sockets that said hello with it."""
    me = await server.user()
    bearer = {"authorization": f"Bearer {me.token}"}
    username = server.usernames[me.user_id]
    async with http_client(server) as http:
        assert (await http.post("/v1/logout", headers=bearer)).status_code == 204
        again = await login(server.base_url, username, PASSWORD, device_id=me.device_id)
        newest = await login(server.base_url, username, PASSWORD, device_id=me.device_id)
        async with greeted(server, again) as older, greeted(server, newest) as current:
            stale = await http.post("/v1/logout", headers=bearer)  # the old token, once more
            assert stale.status_code == 401
            ok(await older.call(1, "threads.list", {}))
            logout = {"authorization": f"Bearer {again.token}"}
            assert (await http.post("/v1/logout", headers=logout)).status_code == 204
            assert await older.close_code() == CloseCode.TOKEN_REVOKED
            ok(await current.call(1, "threads.list", {}))


async def test_silence_and_stale_tokens_are_timed_out(make_server: Any) -> None:
    server = make_server(hello_timeout_seconds=0.5, heartbeat_seconds=0.4, token_ttl_seconds=2)
    expiring = await server.user()
    async with raw(server) as ws:  # no hello
        assert await close_code(ws) == CloseCode.HELLO_TIMEOUT
    me = await server.user()
    async with (
        greeted(server, me) as mute,
        greeted(server, me) as ponger,
        greeted(server, me) as pinger,
    ):
        assert mute.welcome["heartbeat_ms"] == 400
        # Answer four server pings, well past two heartbeats; the pinger sends
        # only its own pings: any frame proves liveness.
        for n in range(4):
            ping = await ponger.receive("ping")
            assert set(ping) <= {"t", "ts", "cursor"}, ping  # ``ts`` is optional (0 when absent)
            await ponger.send({"t": "pong", "ts": ping.get("ts", 0)})
            await pinger.send({"t": "ping", "ts": n + 1})
            assert await pinger.receive("pong") == {"t": "pong", "ts": n + 1}
        # The mute socket answers nothing (the server sends no transport-level pings).
        assert await mute.close_code() == CloseCode.HEARTBEAT_TIMEOUT
        ok(await ponger.call(1, "threads.list", {}))
        ok(await pinger.call(1, "threads.list", {}))
    # A token past its expiry is refused at hello (no event marks it: wait for the time).
    await asyncio.sleep(max(0.0, expiring.expires_at / 1000 - time.time()) + 0.1)
    async with raw(server) as ws:
        await ws.send(pack(hello(expiring)))
        assert await close_code(ws) == CloseCode.UNAUTHORIZED


async def test_ping_is_answered_with_its_timestamp(server: RunningServer) -> None:
    async with greeted(server, await server.user()) as link:
        await link.send({"t": "ping", "ts": 123456789})
        assert await link.receive("pong") == {"t": "pong", "ts": 123456789}
        await link.send({"t": "pong", "ts": 5})  # a pong is not answered
        await link.send(call_frame(1, "threads.list", {}))
        frames = [await link.receive()]
        while frames[-1]["t"] != "result":
            frames.append(await link.receive())
        assert "pong" not in [frame["t"] for frame in frames], frames


# --- frames after welcome ----------------------------------------------------


async def test_bad_frames_get_typed_errors_and_the_link_keeps_working(
    server: RunningServer,
) -> None:
    async with greeted(server, await server.user()) as link:
        limit = link.limits["frame_bytes"]
        cases: list[tuple[str | bytes, int | None, str]] = [
            (b"\xc1", None, "invalid"),
            (b"", None, "invalid"),
            (b"\x91" * 50_000 + b"\xc0", None, "invalid"),
            ("a text frame", None, "invalid"),
            (pack({"t": "teleport"}), None, "invalid"),
            (pack([1, 2, 3]), None, "invalid"),
            (pack({"t": "call", "id": 6}), 6, "invalid"),  # no method; the id is recovered
            (call_frame(-1, "threads.list", {}), None, "invalid"),
            (call_frame(2**53 + 1, "threads.list", {}), None, "invalid"),
            (call_frame(7, "nope.nope", {}), 7, "unknown_method"),
            (call_frame(8, "threads.open", {"kind": "x"}), 8, "invalid"),
            (call_frame(9, "threads.list", "not a map"), 9, "invalid"),
            (call_frame(10, "presence.set", {"status": "offline"}), 10, "invalid"),
            (call_frame(11, "messages.history", {"thread": 1, "limit": 201}), 11, "invalid"),
            (padded_call(12, limit + 1), 12, "too_large"),
            (pack({"t": "hello", "versions": [1], "token": "t", "device": 1}), None, "invalid"),
        ]
        for frame, call_id, code in cases:
            await link.send(frame)
            error = refused(await link.receive("error", "result"), code)
            assert error["id"] == call_id, (frame[:40], error)
        ok(await link.call(20, "threads.list", {}))


async def test_frame_size_limits_are_exact(server: RunningServer) -> None:
    """``frame_bytes`` and the transport cap are the largest sizes accepted."""
    me = await server.user()
    ws_max_bytes = Settings.load().ws_max_bytes
    async with greeted(server, me) as link:
        limit = link.limits["frame_bytes"]
        await link.send(padded_call(1, limit))
        assert ok(await link.receive("result", "error")) == {"threads": []}
        await link.send(padded_call(2, limit + 1))
        assert refused(await link.receive("result", "error"), "too_large")["id"] == 2
        await link.send(b"\0" * ws_max_bytes)  # at the cap: an error, the link lives
        assert refused(await link.receive("result", "error"), "too_large")["id"] is None
        ok(await link.call(3, "threads.list", {}))
        await link.send(b"\0" * (ws_max_bytes + 1))
        assert await link.close_code() == CloseCode.MESSAGE_TOO_BIG
    async with greeted(server, me) as link:
        ok(await link.call(1, "threads.list", {}))


async def test_calls_are_answered_in_the_order_they_were_sent(server: RunningServer) -> None:
    """Pipelined calls, good and bad mixed: one answer each, in order, ids echoed."""
    doctor, patient, thread = await server.patient_thread()
    members = [doctor.user_id, patient.user_id]
    calls: list[tuple[int, str, Any, str]] = [
        (0, "threads.list", {}, "result"),
        (2**53 - 1, "messages.send", send_params(server, doctor, thread, members), "result"),
        (5, "nope", {}, "unknown_method"),
        (3, "messages.history", {"thread": thread}, "result"),
        (1, "receipts.read", {"thread": thread, "thread_seq": 99}, "invalid"),
        (4, "typing", {"thread": thread}, "result"),
        (9, "presence.list", {}, "result"),
        (8, "messages.send", send_params(server, doctor, thread, members), "result"),
        (7, "threads.open", {"kind": "group", "members": []}, "invalid"),
    ]
    async with greeted(server, doctor) as link:
        for call_id, method, params, _ in calls * 3:
            await link.send(call_frame(call_id, method, params))
        for call_id, _, _, outcome in calls * 3:
            answer = await link.receive("result", "error")
            assert answer["id"] == call_id, answer
            assert answer.get("code", "result") == outcome, answer


async def test_an_oversized_envelope_is_refused_and_not_stored(server: RunningServer) -> None:
    """The largest envelope under ``envelope_bytes`` is stored; the next size up
    (bodies are padded in steps of 256 bytes) is refused and leaves nothing."""
    doctor, patient, thread = await server.patient_thread()
    members = [doctor.user_id, patient.user_id]
    async with greeted(server, doctor) as link:
        size = link.limits["envelope_bytes"]
        text_length = size - 1024
        fits = send_params(server, doctor, thread, members, "x" * text_length)
        while True:
            bigger = send_params(server, doctor, thread, members, "x" * (text_length + 256))
            if len(bigger["envelope"]) > size:
                break
            fits, text_length = bigger, text_length + 256
        assert size - 512 < len(fits["envelope"]) <= size < len(bigger["envelope"])
        error = refused(await link.call(1, "messages.send", bigger), "too_large")
        assert error["details"]["limit"] == size
        history = ok(await link.call(2, "messages.history", {"thread": thread}))
        assert [m["kind"] for m in history["messages"]] == ["notice"]  # nothing stored
        sent = ok(await link.call(3, "messages.send", fits))
        assert sent["thread_seq"] == 2 and not sent.get("duplicate", False)
        history = ok(await link.call(4, "messages.history", {"thread": thread}))
        assert history["messages"][0]["envelope"] == fits["envelope"]


# --- who may do what ---------------------------------------------------------


async def test_a_stranger_can_neither_read_nor_write_nor_mark_a_thread(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    stranger = await server.user()
    members = [doctor.user_id, patient.user_id]
    secret = send_params(server, doctor, thread, members, "secret")
    async with greeted(server, doctor) as member:
        ok(await member.call(1, "messages.send", secret))
    async with greeted(server, stranger) as link:
        attempts = [
            ("messages.send", send_params(server, stranger, thread, members, "hi")),
            ("messages.history", {"thread": thread}),
            ("receipts.read", {"thread": thread, "thread_seq": 1}),
            ("receipts.delivered", {"thread": thread, "thread_seq": 1}),
            ("typing", {"thread": thread}),
        ]
        for call_id, (method, params) in enumerate(attempts, 1):
            error = refused(await link.call(call_id, method, params), "forbidden")
            assert error["details"] == {"thread": thread}
            # A thread that does not exist looks the same: existence does not leak.
            ghost = params | {"thread": 10**9}
            error = refused(await link.call(call_id, method, ghost), "forbidden")
            assert error["details"] == {"thread": 10**9}
        assert ok(await link.call(9, "threads.list", {}))["threads"] == []
        assert ok(await link.call(10, "presence.list", {}))["contacts"] == []
    async with greeted(server, doctor) as member:  # nothing was written
        history = ok(await member.call(1, "messages.history", {"thread": thread}))
        kept = [m["client_msg_id"] for m in history["messages"] if m["kind"] != "notice"]
        assert kept == [secret["client_msg_id"]]
        (info,) = ok(await member.call(2, "threads.list", {}))["threads"]
        assert {m["user"] for m in info["members"]} == {doctor.user_id, patient.user_id}


async def test_thread_open_refusals_create_nothing(server: RunningServer) -> None:
    patient, other_patient = await server.user(), await server.user()
    doctor, colleague = await server.user("practitioner"), await server.user("practitioner")
    async with greeted(server, patient) as link:
        attempts: list[tuple[str, list[int], str]] = [
            ("patient_practitioner", [other_patient.user_id], "forbidden"),
            ("patient_practitioner", [doctor.user_id, colleague.user_id], "forbidden"),
            ("patient_practitioner", [patient.user_id], "forbidden"),  # only oneself
            ("practitioner_practitioner", [doctor.user_id], "forbidden"),
            ("group", [doctor.user_id, other_patient.user_id], "forbidden"),
            ("patient_practitioner", [10**9], "not_found"),
        ]
        for call_id, (kind, members, code) in enumerate(attempts, 1):
            answer = await link.call(call_id, "threads.open", {"kind": kind, "members": members})
            refused(answer, code)
        ghost = {"kind": "patient_practitioner", "members": [doctor.user_id, 10**9]}
        assert refused(await link.call(9, "threads.open", ghost), "not_found")["details"] == {
            "users": [10**9]
        }
        assert ok(await link.call(10, "threads.list", {}))["threads"] == []
    async with greeted(server, doctor) as link:
        assert ok(await link.call(1, "threads.list", {}))["threads"] == []


async def test_receipts_past_the_last_message_are_invalid(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    async with greeted(server, doctor) as link:
        for method in ("receipts.read", "receipts.delivered"):  # only the notice so far
            error = refused(
                await link.call(1, method, {"thread": thread, "thread_seq": 2}), "invalid"
            )
            assert error["details"] == {"last_seq": 1}
        params = send_params(server, doctor, thread, [doctor.user_id, patient.user_id])
        sent = ok(await link.call(2, "messages.send", params))
        assert sent["thread_seq"] == 2
        for method in ("receipts.read", "receipts.delivered"):
            error = refused(
                await link.call(3, method, {"thread": thread, "thread_seq": 3}), "invalid"
            )
            assert error["details"] == {"last_seq": 2}
        refused(await link.call(4, "receipts.read", {"thread": thread, "thread_seq": 0}), "invalid")
        (info,) = ok(await link.call(5, "threads.list", {}))["threads"]
        assert (info["last_seq"], info["read_seq"], info["delivered_seq"]) == (2, 2, 2)


async def test_a_client_msg_id_reused_in_another_thread_is_a_conflict(
    server: RunningServer,
) -> None:
    doctor, patient, thread = await server.patient_thread()
    other_patient = await server.user()
    await server.add_patient(doctor, other_patient)
    async with greeted(server, doctor) as link:
        pair = {"kind": "patient_practitioner", "members": [other_patient.user_id]}
        other = ok(await link.call(1, "threads.open", pair))["id"]
        params = send_params(server, doctor, thread, [doctor.user_id, patient.user_id])
        first = ok(await link.call(2, "messages.send", params))
        again = ok(await link.call(3, "messages.send", params))
        assert again["duplicate"] is True and again["message_id"] == first["message_id"]
        # The same id with an envelope sealed for the other thread:
        moved = server.envelope(doctor, other, [doctor.user_id, other_patient.user_id], "two")
        moved_params = {"thread": other, "client_msg_id": params["client_msg_id"]}
        moved_params["envelope"] = moved.data
        refused(await link.call(4, "messages.send", moved_params), "invalid")
        history = ok(await link.call(5, "messages.history", {"thread": other}))
        assert [m["kind"] for m in history["messages"]] == ["notice"]


# --- rate limits -------------------------------------------------------------


async def test_rate_limits_refuse_without_effect_per_device(make_server: Any) -> None:
    server = make_server(sends_per_second=0.5, send_burst=2, calls_per_second=2, call_burst=10)
    # Sends: two pass, the third is refused and leaves nothing, even after a reconnect.
    doctor, patient, thread = await server.patient_thread()
    members = [doctor.user_id, patient.user_id]
    sends = [send_params(server, doctor, thread, members, f"m{n}") for n in range(4)]
    async with greeted(server, doctor) as link:
        assert (link.limits["sends_per_second"], link.limits["send_burst"]) == (0.5, 2)
        answers = [await link.call(n, "messages.send", sends[n]) for n in (1, 2, 3)]
        assert [a["t"] for a in answers] == ["result", "result", "error"]
        assert 0 < refused(answers[2], "rate_limited")["details"]["retry_after_ms"] <= 2001
    async with greeted(server, doctor) as link:  # the bucket is the device's, not the socket's
        refused(await link.call(4, "messages.send", sends[3]), "rate_limited")
        history = ok(await link.call(5, "messages.history", {"thread": thread}))
        stored = [m["client_msg_id"] for m in history["messages"] if m["kind"] != "notice"]
        assert stored == [sends[2]["client_msg_id"], sends[1]["client_msg_id"]]

    # Calls: two sockets of one device share one burst; another device has its own.
    me = await server.user(publish_keys=False)  # no call from ``me`` before the count
    other_device = await server.other_device(me, approve=False)
    async with greeted(server, me) as first, greeted(server, me) as second:
        for n in range(10):
            ok(await (first, second)[n % 2].call(n, "threads.list", {}))
        error = refused(await first.call(10, "threads.list", {}), "rate_limited")
        retry_after_ms = error["details"]["retry_after_ms"]
        assert 0 < retry_after_ms <= 501
        refused(await second.call(11, "threads.list", {}), "rate_limited")
        async with greeted(server, other_device) as link:
            ok(await link.call(1, "threads.list", {}))
        # retry_after_ms is honest (there is no event to await: the limit is time).
        await asyncio.sleep(retry_after_ms / 1000)
        ok(await first.call(12, "threads.list", {}))


# --- HTTP --------------------------------------------------------------------


async def test_http_refusals(server: RunningServer) -> None:
    me, other = await server.user(), await server.user()
    username = server.usernames[me.user_id]
    fresh = f"new-{username}"  # refused below, so still free at the end
    account = {"username": fresh, "password": PASSWORD, "display_name": "X", "role": "patient"}
    right = {"username": username, "password": PASSWORD}
    cases: list[tuple[str, Any, int, str]] = [
        ("/v1/register", account | {"username": username}, 409, "conflict"),
        ("/v1/register", account | {"username": "a b"}, 400, "invalid"),
        ("/v1/register", account | {"password": "1234567"}, 400, "invalid"),
        ("/v1/register", account | {"display_name": ""}, 400, "invalid"),
        ("/v1/register", account | {"role": "wizard"}, 400, "invalid"),
        ("/v1/register", [account], 400, "invalid"),
        ("/v1/register", account | {"role": "admin"}, 403, "forbidden"),
        ("/v1/register", account | {"role": "assistant"}, 403, "forbidden"),
        ("/v1/login", right | {"password": "wrong password"}, 401, "unauthorized"),
        ("/v1/login", right | {"username": fresh}, 401, "unauthorized"),
        ("/v1/login", right | {"device_id": other.device_id}, 403, "forbidden"),
        ("/v1/login", right | {"device_id": 10**9}, 403, "forbidden"),
        ("/v1/login", right | {"username": "x" * 20_000}, 413, "too_large"),
    ]
    async with http_client(server) as http:
        answers = []
        for path, body, status, code in cases:
            answer = await http.post(path, json=body)
            assert answer.status_code == status, (path, body, answer.text)
            assert answer.json()["code"] == code, answer.text
            answers.append(answer.json())
        assert answers[8] == answers[9]  # an unknown user looks like a wrong password
        for authorization in ("Bearer chb_nothing", f"Basic {me.token}", f"Bearer{me.token}", ""):
            answer = await http.post("/v1/logout", headers={"authorization": authorization})
            assert answer.status_code == 401, (authorization, answer.text)
            assert answer.json()["code"] == "unauthorized"
        broken = await http.post("/v1/login", content=b"{not json")
        assert broken.status_code == 400 and broken.json()["code"] == "invalid"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(40):
                yield b"x" * 1024

        streamed = await http.post("/v1/register", content=chunks())  # no content-length
        assert streamed.status_code == 413 and streamed.json()["code"] == "too_large"
        # The refusals changed nothing: the name is free and the token still works.
        created = await http.post("/v1/register", json=account)
        assert created.status_code == 201 and created.json()["user"]["role"] == "patient"
    async with greeted(server, me) as link:
        ok(await link.call(1, "threads.list", {}))


async def test_login_attempts_are_throttled_per_username(server: RunningServer) -> None:
    me = await server.user()
    target = "guess-" + server.usernames[me.user_id]
    async with http_client(server) as http:
        statuses = [
            (await http.post("/v1/login", json={"username": target, "password": "x" * 8}))
            for _ in range(11)
        ]
        assert [s.status_code for s in statuses] == [401] * 10 + [429]
        assert statuses[-1].json()["code"] == "rate_limited"
        assert statuses[-1].json()["details"]["retry_after_ms"] > 0
        username = server.usernames[me.user_id]  # other usernames are not affected
        answer = await http.post("/v1/login", json={"username": username, "password": PASSWORD})
        assert answer.status_code == 200
