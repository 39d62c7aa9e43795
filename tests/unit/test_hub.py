"""The hub's delivery to delegates: a thread's frame for a practitioner
reaches the sockets of those reading for them, once each, while the
delegation lasts; what is addressed to the practitioner alone does not."""

from __future__ import annotations

from protocol.e2e import Delegate
from protocol.errors import CloseCode
from protocol.model import Role
from server.broker.base import Delivery
from server.clock import Clock
from server.connection import Connection
from server.hub import Hub
from server.ratelimit import Limit

DOCTOR, ASSISTANT, PATIENT = 1, 3, 4
NOW = 1_700_000_000_000


class FixedClock(Clock):
    def ms(self) -> int:
        return NOW


def connect(
    hub: Hub, user: int, grants: dict[int, Delegate] | None = None, token: bytes = b""
) -> Connection:
    conn = Connection(
        session=f"s{user}",
        token_hash=token,
        user_id=user,
        device_id=user * 10,
        role=Role.ASSISTANT if grants else Role.PRACTITIONER,
        queue_bytes=1 << 16,
        calls=("calls:1", Limit(10, 10)),
        sends=("sends:1", Limit(10, 10)),
    )
    conn.welcome(b"welcome")
    hub.add(conn)
    if grants:
        conn.grants = grants
        hub.read_for(conn)
    return conn


def queued(conn: Connection) -> int:
    """Frames queued after the welcome."""
    return len(conn._frames) - 1


def test_a_thread_frame_reaches_the_reader_once() -> None:
    hub = Hub(FixedClock())
    doctor = connect(hub, DOCTOR)
    helper = connect(hub, ASSISTANT, {DOCTOR: Delegate(ASSISTANT, "read")})
    hub.deliver(Delivery([DOCTOR, PATIENT, ASSISTANT], b"typing", thread=7))  # also a member
    assert (queued(doctor), queued(helper)) == (1, 1)


def test_the_practitioners_own_frames_stay_theirs() -> None:
    hub = Hub(FixedClock())
    doctor = connect(hub, DOCTOR)
    helper = connect(hub, ASSISTANT, {DOCTOR: Delegate(ASSISTANT, "read")})
    hub.deliver(Delivery([DOCTOR], b"presence"))
    assert (queued(doctor), queued(helper)) == (1, 0)


def test_no_frame_without_a_current_reading_delegation() -> None:
    hub = Hub(FixedClock())
    expired = connect(hub, ASSISTANT, {DOCTOR: Delegate(ASSISTANT, "read", NOW)})
    agenda_only = connect(hub, ASSISTANT + 1, {DOCTOR: Delegate(ASSISTANT + 1, "agenda")})
    hub.deliver(Delivery([DOCTOR], b"message", thread=7))
    assert (queued(expired), queued(agenda_only)) == (0, 0)


def test_a_changed_delegation_closes_the_delegates_sockets_only() -> None:
    hub = Hub(FixedClock())
    doctor = connect(hub, DOCTOR)
    helper = connect(hub, ASSISTANT, {DOCTOR: Delegate(ASSISTANT, "read")})
    hub.close_access(ASSISTANT)  # what an ``AccessChanged`` control message does
    assert helper.close_code == CloseCode.ACCESS_CHANGED
    assert doctor.close_code is None
    hub.remove(helper)
    hub.deliver(Delivery([DOCTOR], b"message", thread=7))  # no reader left behind
    assert queued(doctor) == 1


def test_a_socket_registering_with_a_token_that_just_ended_is_closed() -> None:
    """Its hello read the token as valid; the session ended before it registered."""
    hub = Hub(FixedClock())
    before = connect(hub, PATIENT, token=b"ended")
    hub.close_sessions(PATIENT, [b"ended"], "password changed")
    assert before.close_code == CloseCode.TOKEN_REVOKED
    late = connect(hub, PATIENT, token=b"ended")  # read as valid, registered afterwards
    assert (late.close_code, late.close_reason) == (CloseCode.TOKEN_REVOKED, "password changed")
    assert not connect(hub, PATIENT, token=b"new login").closing


def test_the_socket_whose_call_ended_its_session_answers_before_it_closes() -> None:
    hub = Hub(FixedClock())
    asking, draining = (connect(hub, PATIENT, token=b"gone") for _ in range(2))
    asking.finish(CloseCode.TOKEN_REVOKED, "account deleted")  # its call deleted the account
    draining.finish(CloseCode.SERVER_SHUTDOWN, "server shutting down")
    hub.close_sessions(PATIENT, [b"gone"], "account deleted")
    assert (asking.closing, asking.finishing_with) == (False, CloseCode.TOKEN_REVOKED)
    assert draining.close_code == CloseCode.TOKEN_REVOKED  # revoked now, not at the drain's end
