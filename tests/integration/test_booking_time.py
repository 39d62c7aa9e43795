"""Booking where time matters, on a real server whose clock the test moves
(``tests.support.clocked``): both daylight-saving changes in Europe/Paris,
a hold expiring by itself, a no-show, and reminders that survive a restart
without going out twice or being skipped, with two nodes sending each once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as redis

from clients import Client, Credentials
from protocol.booking import (
    AgendaSettings,
    AppointmentParams,
    AppointmentStatus,
    ConfirmParams,
    HoldParams,
    OpeningHours,
    RescheduleParams,
    SlotsParams,
    VisitReason,
)
from protocol.errors import ErrorCode
from server.reminders import RETRY_FIRST_MS
from tests.integration.test_practice import refused
from tests.support.clocked import RecordingGateway, TravelClock, clocked_server
from tests.support.postgres import create_database
from tests.support.server import RunningServer

HOUR = 3_600_000
DAY = 24 * HOUR
CONSULT = VisitReason("consult", "Consultation", 30)
MORNINGS = AgendaSettings(
    time_zone="Europe/Paris",
    reasons=[CONSULT],
    hours=[OpeningHours(day, "09:00", "12:00", ["consult"]) for day in range(5)],
    horizon_days=60,
    min_notice_minutes=60,
    reminder_minutes=[24 * 60, 120],
)


def utc(year: int, month: int, day: int, hour: int = 0) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1000)


async def setup(server: RunningServer) -> tuple[Credentials, Credentials]:
    doctor = await server.user("practitioner", publish_keys=False)
    patient = await server.user("patient", publish_keys=False)
    async with server.client(doctor) as desk:
        await desk.call("agenda.set", MORNINGS)
    return doctor, patient


async def first_slot(client: Client, doctor: Credentials, day: int) -> int:
    found = await client.call(
        "agenda.slots", SlotsParams(doctor.user_id, "consult", day, day + DAY)
    )
    slot: int = found.slots[0]
    return slot


async def book(client: Client, doctor: Credentials, start: int) -> int:
    held = await client.call("booking.hold", HoldParams(doctor.user_id, "consult", start))
    confirmed = await client.call("booking.confirm", ConfirmParams(held.id))
    assert (confirmed.starts_at, confirmed.status) == (start, AppointmentStatus.CONFIRMED)
    appointment_id: int = confirmed.id
    return appointment_id


async def test_nine_o_clock_on_both_sides_of_each_change(database_factory, tmp_path: Path) -> None:
    cases = [
        # (the clock, a day before the change, a day after; 09:00 local in UTC)
        (datetime(2027, 3, 20, tzinfo=UTC), (utc(2027, 3, 26), 8), (utc(2027, 3, 29), 7)),
        (datetime(2027, 10, 20, tzinfo=UTC), (utc(2027, 10, 29), 7), (utc(2027, 11, 1), 8)),
    ]
    for start, *days in cases:
        clock = TravelClock(start)
        async with clocked_server(database_factory(), tmp_path, clock) as server:
            doctor, patient = await setup(server)
            async with server.client(patient) as me:
                for day, nine_local_in_utc in days:
                    slot = await first_slot(me, doctor, day)
                    assert slot == day + nine_local_in_utc * HOUR
                    await book(me, doctor, slot)


async def test_an_expired_hold_frees_its_slot_by_itself(database_factory, tmp_path: Path) -> None:
    clock = TravelClock(datetime(2027, 1, 4, 6, tzinfo=UTC))  # a Monday, 07:00 in Paris
    async with clocked_server(database_factory(), tmp_path, clock) as server:
        doctor, patient = await setup(server)
        rival = await server.user("patient", publish_keys=False)
        tuesday = utc(2027, 1, 5)
        async with server.client(patient) as me, server.client(rival) as them:
            slot = await first_slot(me, doctor, tuesday)
            held = await me.call("booking.hold", HoldParams(doctor.user_id, "consult", slot))
            assert await first_slot(them, doctor, tuesday) != slot
            clock.travel(16 * 60_000)  # a hold lasts 15 minutes
            assert await first_slot(them, doctor, tuesday) == slot
            await refused(
                me.call("booking.confirm", ConfirmParams(held.id)),
                "hold_expired",
                ErrorCode.CONFLICT,
            )
            await book(them, doctor, slot)


async def test_a_no_show_is_marked_once_the_appointment_began(
    database_factory, tmp_path: Path
) -> None:
    clock = TravelClock(datetime(2027, 1, 4, 6, tzinfo=UTC))
    async with clocked_server(database_factory(), tmp_path, clock) as server:
        doctor, patient = await setup(server)
        async with server.client(patient) as me, server.client(doctor) as desk:
            slot = await first_slot(me, doctor, utc(2027, 1, 5))
            appointment = await book(me, doctor, slot)
            await refused(
                desk.call("booking.no_show", AppointmentParams(appointment)),
                "wrong_status",
                ErrorCode.CONFLICT,
            )
            clock.travel(slot + 10 * 60_000 - clock.ms())
            missed = await desk.call("booking.no_show", AppointmentParams(appointment))
            assert missed.status is AppointmentStatus.NO_SHOW
            assert (await me.next_event("appointment.no_show")).data.id == appointment


async def test_reminders_go_out_once_each_across_a_restart(
    database_factory, tmp_path: Path
) -> None:
    db = database_factory()
    clock = TravelClock(datetime(2027, 1, 4, 6, tzinfo=UTC))
    first_gateway, second_gateway = RecordingGateway(), RecordingGateway()
    poll = {"reminder_poll_seconds": 0.05}
    async with clocked_server(db, tmp_path, clock, first_gateway, **poll) as server:
        doctor, patient = await setup(server)
        async with server.client(patient) as me:
            slot = await first_slot(me, doctor, utc(2027, 1, 7))  # Thursday 09:00 local
            appointment = await book(me, doctor, slot)
            clock.travel(slot - DAY + 60_000 - clock.ms())  # a minute after "24 hours before"
            day_before = await me.next_event("appointment.reminder")
            assert day_before.data.id == appointment
            await first_gateway.arrived.wait()
            cursor = me.cursor
    # Down while the two-hour reminder came due; up again with another gateway.
    clock.travel(slot - 2 * HOUR + 30 * 60_000 - clock.ms())
    async with clocked_server(db, tmp_path, clock, second_gateway, **poll) as again:
        again.usernames.update(server.usernames)
        async with Client(again.ws_url, patient, resume_from=cursor) as me:
            two_hours = await me.next_event("appointment.reminder")
            assert two_hours.data.id == appointment and two_hours.seq > day_before.seq
            await second_gateway.arrived.wait()
    sent = [
        (body["appointment"], body["minutes_before"], user)
        for gateway in (first_gateway, second_gateway)
        for _, user, _, body in gateway.delivered
    ]
    assert sorted(sent) == [
        (appointment, 120, patient.user_id),
        (appointment, 1440, patient.user_id),
    ]


async def test_a_moved_appointment_is_reminded_at_its_new_time(
    database_factory, tmp_path: Path
) -> None:
    clock = TravelClock(datetime(2027, 1, 4, 6, tzinfo=UTC))
    gateway = RecordingGateway()
    poll = {"reminder_poll_seconds": 0.05}
    async with clocked_server(database_factory(), tmp_path, clock, gateway, **poll) as server:
        doctor, patient = await setup(server)
        async with server.client(patient) as me, server.client(doctor) as desk:
            thursday = await first_slot(me, doctor, utc(2027, 1, 7))
            appointment = await book(me, doctor, thursday)
            clock.travel(thursday - DAY + 60_000 - clock.ms())
            assert (await me.next_event("appointment.reminder")).data.starts_at == thursday
            friday = await first_slot(me, doctor, utc(2027, 1, 8))
            await desk.call("booking.reschedule", RescheduleParams(appointment, friday))
            clock.travel(friday - DAY + 60_000 - clock.ms())
            again = await me.next_event("appointment.reminder")
            assert (again.data.id, again.data.starts_at) == (appointment, friday)


class FlakyGateway(RecordingGateway):
    """Fails the first attempt at the first notification it is handed."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: list[int] = []

    async def deliver(
        self, notification_id: int, user_id: int, kind: str, body: dict[str, Any]
    ) -> None:
        if not self.failed:
            self.failed.append(notification_id)
            raise ConnectionError("the SMS provider is down")
        await super().deliver(notification_id, user_id, kind, body)

    async def wait_for(self, count: int) -> list[int]:
        while len(self.delivered) < count:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 10)
        return [notification_id for notification_id, *_ in self.delivered]


async def test_two_nodes_send_each_reminder_once_and_retry_a_failed_one_alone(
    postgres: Any, redis_server: Any, tmp_path: Path
) -> None:
    db = create_database(postgres, f"r_{uuid.uuid4().hex[:12]}")
    clock = TravelClock(datetime(2027, 1, 4, 6, tzinfo=UTC))
    gateway = FlakyGateway()  # both nodes hand notifications to the same provider
    shared = {"reminder_poll_seconds": 0.05, "redis": redis_server.url}
    async with (
        clocked_server(db, tmp_path, clock, gateway, node_id="a", **shared) as a,
        clocked_server(db, tmp_path, clock, gateway, node_id="b", **shared),
    ):
        doctor, patient = await setup(a)
        async with a.client(patient) as me:
            slot = await first_slot(me, doctor, utc(2027, 1, 7))
            appointment = await book(me, doctor, slot)
            clock.travel(slot - 2 * HOUR + 60_000 - clock.ms())  # both reminders are due
            reminded = [await me.next_event("appointment.reminder") for _ in range(2)]
            assert {event.data.id for event in reminded} == {appointment}
            # The first notification failed; the second did not wait for it.
            first_delivered = await gateway.wait_for(1)
            assert len(gateway.failed) == 1 and first_delivered != gateway.failed
            clock.travel(RETRY_FIRST_MS)  # its retry is due
            delivered = await gateway.wait_for(2)
        holder = redis.Redis.from_url(redis_server.url)
        assert await holder.get("carehub:lease:reminders") in {b"a", b"b"}  # one node's chore
        await holder.aclose()
    assert sorted(delivered) == sorted({*first_delivered, *gateway.failed})  # each once
    assert len(delivered) == 2
