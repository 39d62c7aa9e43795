"""What an outside security test found, each through the real socket or
HTTP endpoint: who may bring a patient into a thread, ids past 64 bits,
dates and time zones that are not, nested JSON, per-source limits, sockets
per device, junk frames, unfinished uploads, retries after the devices
changed, and a client's bad UTF-8 in the server's log."""

from __future__ import annotations

import base64
import os
import socket
from typing import Any

import httpx
import pytest

from clients.errors import CallError
from protocol.e2e import Scope
from protocol.errors import CloseCode, ErrorCode
from protocol.methods import ThreadMemberParams, ThreadsOpenParams
from protocol.model import Empty, ThreadKind
from protocol.practice import PracticeCreateParams, PracticeMemberParams
from tests.support.server import PASSWORD, RunningServer
from tests.support.wire import greeted, http_client, ok, refused, send_params

GROUP = ThreadKind.GROUP
HUGE_IDS = [2**53, 2**63, 2**64 - 1]


async def refusal(call: Any) -> CallError:
    with pytest.raises(CallError) as raised:
        await call
    return raised.value


async def test_only_a_patients_own_care_side_brings_them_into_a_group(
    server: RunningServer,
) -> None:
    doctor, patient, _ = await server.patient_thread()
    nobodys = await server.user("patient", "Nobody's Patient")
    unverified = await server.user("practitioner", verified=False)
    unrelated = await server.user("practitioner")
    revoked = await server.assistant_of(doctor)
    await server.delegate(doctor, revoked)
    async with server.secure(doctor) as desk:
        await desk.refresh([doctor.user_id])
        await desk.revoke_delegate(revoked.user_id)
    for outsider, reason in ((unverified, "not_verified"), (unrelated, "not_a_patient")):
        async with server.client(outsider) as out:
            answers = [
                await refusal(out.call("threads.open", ThreadsOpenParams(GROUP, members)))
                for members in ([doctor.user_id, patient.user_id], [nobodys.user_id])
            ]
            threads = (await out.call("threads.list", Empty())).threads
        assert threads == []  # nothing was created
        # The same answer whether or not the patient is somebody's: no oracle.
        assert {(a.code, a.details.get("reason"), str(a)) for a in answers} == {
            (ErrorCode.FORBIDDEN, reason, str(answers[0]))
        }
    async with server.client(revoked) as former:
        answer = await refusal(
            former.call("threads.open", ThreadsOpenParams(GROUP, [doctor.user_id, patient.user_id]))
        )
        assert answer.details.get("reason") == "not_delegated"
    # The unrelated practitioner's own group takes no one else's patient either.
    async with server.client(unrelated) as out:
        theirs = await out.call("threads.open", ThreadsOpenParams(GROUP, [doctor.user_id]))
        answer = await refusal(
            out.call("threads.add_member", ThreadMemberParams(theirs.id, patient.user_id))
        )
        assert answer.details.get("reason") == "not_a_patient"
        names = {m.name for m in (await out.call("threads.list", Empty())).threads[0].members}
        assert server.usernames[patient.user_id] not in names
    # The patient's practitioner, and their delegate acting for them, may.
    async with server.client(doctor) as doc:
        await doc.call("threads.open", ThreadsOpenParams(GROUP, [patient.user_id]))
    helper = await server.assistant_of(doctor)
    await server.delegate(doctor, helper, [Scope.READ, Scope.REPLY])
    async with server.client(helper) as desk:
        opened = await desk.call(
            "threads.open", ThreadsOpenParams(GROUP, [doctor.user_id, patient.user_id])
        )
        assert {m.user for m in opened.members} == {
            helper.user_id,
            doctor.user_id,
            patient.user_id,
        }


@pytest.mark.parametrize("value", HUGE_IDS)
async def test_ids_past_the_wire_bound_are_invalid(server: RunningServer, value: int) -> None:
    me = await server.user()
    async with greeted(server, me) as link:
        for call_id, (method, params) in enumerate(
            [
                ("messages.history", {"thread": value}),
                ("booking.cancel", {"appointment": value}),
                ("rules.add", {"name": "n", "text": "t", "position": value}),
                ("keys.fetch", {"users": [value]}),
            ]
        ):
            refused(await link.call(call_id, method, params), "invalid")
    async with http_client(server) as http:
        body = {"username": server.usernames[me.user_id], "password": PASSWORD}
        answer = await http.post("/v1/login", json=body | {"device_id": value})
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid")
        headers = {"authorization": f"Bearer {me.token}"}
        answer = await http.get(f"/v1/threads/{value}/audit", headers=headers)
        assert (answer.status_code, answer.json()["code"]) == (404, "not_found")


async def test_dates_and_time_zones_that_are_not_are_invalid(server: RunningServer) -> None:
    doctor = await server.user("practitioner")
    async with greeted(server, doctor) as link:
        for call_id, date in enumerate(["9999-12-31", "0001-01-01", "2026-02-30", "٢٠٢٦-01-01"]):
            for method in ("agenda.day", "agenda.week"):
                refused(await link.call(call_id, method, {"date": date}), "invalid")
        for call_id, zone in enumerate(
            ["Europe", "../../etc/passwd", "Europe/Paris\x00", "Nowhere"]
        ):
            answer = await link.call(call_id, "agenda.set", {"time_zone": zone})
            refused(answer, "invalid")  # not "unavailable": the store is fine
            answer = await link.call(
                call_id, "rules.add", {"name": "n", "text": "t", "timezone": zone}
            )
            refused(answer, "invalid")
        ok(await link.call(9, "agenda.set", {"time_zone": "Europe/Paris"}))


@pytest.mark.parametrize("path", ["/v1/login", "/v1/register"])
async def test_deeply_nested_json_is_invalid(server: RunningServer, path: str) -> None:
    nested = b'{"username": "x", "password": "y", "extra": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    async with http_client(server) as http:
        for body in (nested, b"[" * 5000 + b"]" * 5000):
            answer = await http.post(path, content=body)
            assert (answer.status_code, answer.json()["code"]) == (400, "invalid"), answer.text


async def test_logins_and_registrations_are_limited_per_source(make_server: Any) -> None:
    server: RunningServer = make_server(
        logins_per_source_per_minute=3, registrations_per_source_per_hour=2
    )

    def account(n: int) -> dict[str, str]:
        return {"username": f"spread-{n}", "password": PASSWORD, "display_name": "X"}

    async with http_client(server) as http:

        async def post(path: str, body: dict[str, str], source: str) -> int:
            # uvicorn takes X-Forwarded-For from a trusted proxy (loopback by default).
            answer = await http.post(path, json=body, headers={"x-forwarded-for": source})
            return answer.status_code

        registered = [await post("/v1/register", account(n), "10.0.0.1") for n in range(3)]
        assert registered == [201, 201, 429]
        assert await post("/v1/register", account(3), "10.0.0.2") == 201  # another source
        # Guesses spread over many accounts from one source are throttled too.
        guesses = [
            await post("/v1/login", account(n) | {"password": "wrong guess"}, "10.0.0.3")
            for n in range(4)
        ]
        assert guesses == [401, 401, 401, 429]
        assert await post("/v1/login", account(0), "10.0.0.4") == 200


async def test_a_device_keeps_a_bounded_number_of_sockets(make_server: Any) -> None:
    server: RunningServer = make_server(sockets_per_device=2)
    me = await server.user(publish_keys=False)
    # A third socket: the oldest gives way, so a client is never locked out.
    async with (
        greeted(server, me) as first,
        greeted(server, me) as second,
        greeted(server, me) as third,
    ):
        assert await first.close_code() == CloseCode.DEVICE_SOCKETS
        ok(await second.call(1, "threads.list", {}))
        ok(await third.call(2, "threads.list", {}))


async def test_unreadable_frames_spend_the_rate_limit(make_server: Any) -> None:
    server: RunningServer = make_server(calls_per_second=0.01, call_burst=3)
    me = await server.user(publish_keys=False)
    other = await server.other_device(me, approve=False)
    async with greeted(server, me) as link, greeted(server, other) as neighbour:
        for junk in (b"\xc1", "text frame", b"\x93\x01\x02"):
            await link.send(junk)
            refused(await link.receive("error"), "invalid")
        await link.send(b"\xc1")
        assert refused(await link.receive("error"), "rate_limited")["details"]["retry_after_ms"] > 0
        for _ in range(3):  # a burst of ignored rate_limited answers ends the link
            await link.send(b"\xc1")
        assert await link.close_code() == CloseCode.POLICY_VIOLATION
        ok(await neighbour.call(1, "threads.list", {}))  # the device's other bucket is its own


async def test_unfinished_uploads_are_bounded_per_user(make_server: Any) -> None:
    server: RunningServer = make_server(max_unfinished_uploads=2)
    doctor, _, thread = await server.patient_thread()
    async with greeted(server, doctor) as link:
        for call_id in range(2):
            params = {"thread": thread, "size": 10, "hash": os.urandom(32)}
            ok(await link.call(call_id, "attachments.begin", params))
        params = {"thread": thread, "size": 10, "hash": os.urandom(32)}
        error = refused(await link.call(3, "attachments.begin", params), "quota_exceeded")
        assert error["details"] == {"unfinished": 2, "limit": 2}


async def test_a_retry_after_the_devices_changed_is_a_duplicate(server: RunningServer) -> None:
    doctor, patient, thread = await server.patient_thread()
    params = send_params(server, doctor, thread, [doctor.user_id, patient.user_id])
    async with greeted(server, doctor) as link:
        first = ok(await link.call(1, "messages.send", params))
        await server.other_device(patient)  # the patient's devices change
        again = ok(await link.call(2, "messages.send", params))
        assert again == first | {"duplicate": True}
        history = ok(await link.call(3, "messages.history", {"thread": thread}))
        assert [m["id"] for m in history["messages"] if m["kind"] != "notice"] == [
            first["message_id"]
        ]


def send_text_frame(port: int, payload: bytes) -> bytes:
    """A masked WebSocket text frame of ``payload`` after a bare handshake (a
    client library would refuse to send invalid UTF-8); the server's answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: carehub.v1\r\n\r\n".encode()
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 101")
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)
        return sock.recv(4096)


async def test_invalid_utf8_from_a_client_stays_out_of_the_error_log(make_server: Any) -> None:
    server: RunningServer = make_server()
    before = server.log.read_text()
    closing = send_text_frame(server.port, b"\xff\xfe")
    assert closing[:1] == b"\x88" and int.from_bytes(closing[2:4]) == 1007  # a close frame
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await http.get("/healthz")).status_code == 200
    written = server.log.read_text()[len(before) :]
    assert "Traceback" not in written and "ERROR" not in written, written


async def test_an_invited_assistant_is_no_delegate_until_they_accept(
    server: RunningServer,
) -> None:
    doctor = await server.user("practitioner")
    assistant = await server.user("assistant")
    async with server.client(doctor) as doc:
        practice = await doc.call("practices.create", PracticeCreateParams("Cabinet"))
        await doc.call("practices.invite", PracticeMemberParams(practice.id, assistant.user_id))
    with pytest.raises(CallError) as raised:
        await server.delegate(doctor, assistant)
    assert raised.value.details.get("reason") == "not_colleague"
