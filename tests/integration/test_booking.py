"""Booking through real sockets: slots, holds (and the race for one slot),
confirmation, cancellation, rescheduling, the practice's side, the events
everyone concerned receives, and each refusal."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from clients import CallError, Client, Credentials
from protocol.booking import (
    AgendaDayParams,
    AgendaSettings,
    AppointmentInfo,
    AppointmentParams,
    AppointmentStatus,
    CancelParams,
    ConfirmParams,
    ExceptionIdParams,
    ExceptionKind,
    ExceptionParams,
    HoldParams,
    OpeningHours,
    RescheduleParams,
    SlotsParams,
    VisitReason,
)
from protocol.e2e import Scope
from protocol.errors import ErrorCode
from protocol.model import Empty
from protocol.practice import PracticeMemberParams, RelativeParams
from tests.integration.test_practice import refused
from tests.support.server import RunningServer, received

DAY = 86_400_000
HALF_HOUR = 1_800_000
PARIS = ZoneInfo("Europe/Paris")
CONSULT = VisitReason("consult", "Consultation", 30, video=True)
FOLLOW_UP = VisitReason("follow_up", "Follow-up", 20, new_patients=False)
ALL_DAY = [OpeningHours(day, "00:00", "24:00", ["consult", "follow_up"]) for day in range(7)]
AGENDA = AgendaSettings(
    time_zone="Europe/Paris",
    reasons=[CONSULT, FOLLOW_UP],
    hours=ALL_DAY,
    horizon_days=60,
    min_notice_minutes=60,
    cancel_notice_hours=24,
)


async def practitioner_with_agenda(server: RunningServer, **changes: Any) -> Credentials:
    doctor = await server.user("practitioner", publish_keys=False)
    async with server.client(doctor) as desk:
        await desk.call("agenda.set", msgspec.structs.replace(AGENDA, **changes))
    return doctor


async def free(client: Client, doctor: Credentials, reason: str = "consult") -> list[int]:
    now = int(time.time() * 1000)
    found = await client.call(
        "agenda.slots", SlotsParams(doctor.user_id, reason, now, now + 3 * DAY)
    )
    slots: list[int] = found.slots
    return slots


def local_date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, PARIS).date().isoformat()


async def test_a_patient_books_and_everyone_concerned_hears_of_it(server: RunningServer) -> None:
    doctor = await practitioner_with_agenda(server)
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant, [Scope.AGENDA])
    bystander = await server.assistant_of(doctor)  # of a practice, keeping no agenda
    patient = await server.user("patient", "Ana Lopez", publish_keys=False)
    async with (
        server.client(patient) as me,
        server.client(doctor) as desk,
        server.client(assistant) as helper,
        server.client(bystander) as other,
    ):
        slots = await free(me, doctor)
        assert slots and all(b - a >= HALF_HOUR for a, b in itertools.pairwise(slots))
        start = slots[3]
        held = await me.call(
            "booking.hold", HoldParams(doctor.user_id, "consult", start, video=True)
        )
        assert (held.status, held.starts_at, held.ends_at) == (
            AppointmentStatus.HELD,
            start,
            start + HALF_HOUR,
        )
        assert held.hold_expires_at is not None and held.video
        assert start not in await free(me, doctor)
        for client in (me, desk, helper):
            assert (await client.next_event("appointment.held")).data.id == held.id
        confirmed = await me.call("booking.confirm", ConfirmParams(held.id, note="and my renewal"))
        assert (confirmed.status, confirmed.note) == (AppointmentStatus.CONFIRMED, "and my renewal")
        for client in (me, desk, helper):
            event = await client.next_event("appointment.confirmed")
            assert event.data == confirmed and event.seq is not None  # durable
        assert (await me.call("booking.list", Empty())).appointments == [confirmed]
        patients = (await desk.call("patients.list", Empty())).patients
        assert [(p.user, p.source) for p in patients] == [(patient.user_id, "appointment")]
        day = await desk.call("agenda.day", AgendaDayParams(local_date(start)))
        assert confirmed.id in [a.id for a in day.appointments]
        assert day.names == {patient.user_id: "Ana Lopez"}  # who is coming
        await refused(
            other.call("agenda.day", AgendaDayParams(local_date(start), doctor.user_id)),
            "not_agenda",
        )
        # A marker: the bystander heard of no appointment before it.
        practice = (await other.call("practices.list", Empty())).practices[0]
        newcomer = await server.user("assistant")
        await desk.call("practices.invite", PracticeMemberParams(practice.id, newcomer.user_id))
        heard = [event.type for event in await received(other, until="practice.updated")]
        assert not [kind for kind in heard if kind.startswith("appointment.")], heard


async def test_of_fifty_patients_racing_for_one_slot_exactly_one_holds_it(
    server: RunningServer,
) -> None:
    doctor = await practitioner_with_agenda(server)
    racers = await asyncio.gather(*(server.user("patient", publish_keys=False) for _ in range(50)))
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(server.client(p)) for p in racers]
        slot = (await free(clients[0], doctor))[0]
        results = await asyncio.gather(
            *(c.call("booking.hold", HoldParams(doctor.user_id, "consult", slot)) for c in clients),
            return_exceptions=True,
        )
    won = [r for r in results if isinstance(r, AppointmentInfo)]
    lost = [r for r in results if isinstance(r, CallError)]
    assert len(won) == 1 and len(lost) == 49
    assert {(e.code, e.details["reason"]) for e in lost} == {(ErrorCode.CONFLICT, "slot_taken")}


async def test_every_refusal_is_typed(server: RunningServer) -> None:
    doctor = await practitioner_with_agenda(server)
    patient = await server.user("patient", publish_keys=False)
    other = await server.user("patient", publish_keys=False)
    no_agenda = await server.user("practitioner", publish_keys=False)
    now = int(time.time() * 1000)
    soon = (now // HALF_HOUR + 1) * HALF_HOUR  # on the grid, inside the hour of notice
    async with server.client(patient) as me, server.client(other) as them:
        slots = await free(me, doctor)
        tomorrow = next(s for s in slots if s > now + 2 * DAY)

        def hold(start: int, reason: str = "consult") -> Any:
            return me.call("booking.hold", HoldParams(doctor.user_id, reason, start))

        await refused(hold(tomorrow, "surgery"), "unknown_reason")
        await refused(hold(tomorrow - 7 * DAY), "past_slot")
        await refused(hold(soon), "too_short_notice")
        await refused(hold(soon + 61 * DAY), "beyond_horizon")
        await refused(hold(tomorrow + 10 * 60_000), "outside_hours")
        await refused(hold(tomorrow, "follow_up"), "new_patients")  # not their patient yet
        with pytest.raises(CallError) as no_bookings:
            await me.call("booking.hold", HoldParams(no_agenda.user_id, "consult", tomorrow))
        assert no_bookings.value.code == ErrorCode.NOT_FOUND

        held = [await hold(s) for s in slots[-3:]]
        await refused(hold(tomorrow), "too_many_holds")
        with pytest.raises(CallError) as not_theirs:  # as if it did not exist
            await them.call("booking.confirm", ConfirmParams(held[0].id))
        assert not_theirs.value.code == ErrorCode.NOT_FOUND
        await refused(
            me.call("booking.confirm", ConfirmParams(held[0].id, subject=other.user_id)),
            "not_managed",
        )
        cancelled = await me.call("booking.cancel", CancelParams(held[1].id))  # a hold, let go
        assert cancelled.status is AppointmentStatus.CANCELLED
        await refused(
            me.call("booking.confirm", ConfirmParams(held[1].id)),
            "wrong_status",
            ErrorCode.CONFLICT,
        )
        await refused(
            me.call("booking.cancel", CancelParams(held[1].id)), "wrong_status", ErrorCode.CONFLICT
        )
        # Within the day's notice a patient no longer cancels; the practice still can.
        first = await hold(slots[0])
        await me.call("booking.confirm", ConfirmParams(first.id))
        await refused(me.call("booking.cancel", CancelParams(first.id)), "too_late_to_cancel")
        await refused(me.call("booking.no_show", AppointmentParams(first.id)), "not_yours")
    async with server.client(doctor) as desk:
        with pytest.raises(CallError) as unexplained:
            await desk.call("booking.cancel", CancelParams(first.id))
        assert unexplained.value.code == ErrorCode.INVALID
        await refused(
            desk.call("booking.no_show", AppointmentParams(first.id)),  # it has not begun
            "wrong_status",
            ErrorCode.CONFLICT,
        )
        by_practice = await desk.call("booking.cancel", CancelParams(first.id, reason="ill"))
        assert (by_practice.cancelled_by, by_practice.cancel_reason) == (doctor.user_id, "ill")


async def test_rescheduling_takes_the_new_slot_before_freeing_the_old(
    server: RunningServer,
) -> None:
    doctor = await practitioner_with_agenda(server)
    patient = await server.user("patient", publish_keys=False)
    rival = await server.user("patient", publish_keys=False)
    async with server.client(patient) as me, server.client(rival) as them:
        slots = [s for s in await free(me, doctor) if s > time.time() * 1000 + 1.5 * DAY]
        mine = await me.call("booking.hold", HoldParams(doctor.user_id, "consult", slots[0]))
        await me.call("booking.confirm", ConfirmParams(mine.id))
        await them.call("booking.hold", HoldParams(doctor.user_id, "consult", slots[1]))
        await refused(
            me.call("booking.reschedule", RescheduleParams(mine.id, slots[1])),
            "slot_taken",
            ErrorCode.CONFLICT,
        )
        kept = (await me.call("booking.list", Empty())).appointments
        assert [(a.id, a.starts_at) for a in kept] == [(mine.id, slots[0])]  # nothing lost
        moved = await me.call("booking.reschedule", RescheduleParams(mine.id, slots[2]))
        assert (moved.id, moved.starts_at, moved.status) == (
            mine.id,
            slots[2],
            AppointmentStatus.CONFIRMED,
        )
        event = await me.next_event("appointment.rescheduled")
        assert (event.data.starts_at, event.data.previous_starts_at) == (slots[2], slots[0])
        now_free = await free(me, doctor)
        assert slots[0] in now_free and slots[2] not in now_free


async def test_the_practice_shapes_the_agenda_and_books_for_patients(
    server: RunningServer,
) -> None:
    doctor = await practitioner_with_agenda(server)
    assistant = await server.assistant_of(doctor)
    await server.delegate(doctor, assistant, [Scope.AGENDA])
    patient = await server.user("patient", publish_keys=False)
    now = int(time.time() * 1000)
    soon = (now // 1_200_000 + 1) * 1_200_000  # the follow-ups' 20-minute grid
    async with server.client(assistant) as helper, server.client(patient) as me:
        slots = await free(me, doctor)
        block = ExceptionParams(
            practitioner=doctor.user_id,
            kind=ExceptionKind.BLOCK,
            starts_at=slots[1],
            ends_at=slots[1] + HALF_HOUR,
            note="paperwork",
        )
        blocked = await helper.call("agenda.add_exception", block)
        assert slots[1] not in await free(me, doctor)
        await refused(
            me.call("booking.hold", HoldParams(doctor.user_id, "consult", slots[1])),
            "outside_hours",
        )
        week = await helper.call(
            "agenda.week", AgendaDayParams(local_date(slots[1]), doctor.user_id)
        )
        assert blocked.id in [e.id for e in week.exceptions]
        await helper.call("agenda.remove_exception", ExceptionIdParams(blocked.id))
        assert slots[1] in await free(me, doctor)

        # Booked by the practice: within the patient's notice, and a follow-up for a new patient.
        for_them = HoldParams(doctor.user_id, "follow_up", soon, patient=patient.user_id)
        held = await helper.call("booking.hold", for_them)
        booked = await helper.call("booking.confirm", ConfirmParams(held.id))
        assert (booked.patient, booked.status) == (patient.user_id, AppointmentStatus.CONFIRMED)
        assert (await me.next_event("appointment.confirmed")).data.id == booked.id
    outsider = await server.assistant_of(await server.user("practitioner", publish_keys=False))
    async with server.client(outsider) as stranger:
        await refused(stranger.call("agenda.add_exception", block), "not_agenda")
        with pytest.raises(CallError) as not_theirs:
            await stranger.call("booking.cancel", CancelParams(booked.id, "x"))
        assert not_theirs.value.code == ErrorCode.NOT_FOUND


async def test_an_appointment_for_a_relative_makes_them_the_patient(
    server: RunningServer,
) -> None:
    doctor = await practitioner_with_agenda(server)
    parent = await server.user("patient", publish_keys=False)
    async with server.client(parent) as me:
        child = await me.call("relatives.add", RelativeParams("Léo", "child", "I am his father"))
        slot = (await free(me, doctor))[5]
        held = await me.call("booking.hold", HoldParams(doctor.user_id, "consult", slot))
        booked = await me.call("booking.confirm", ConfirmParams(held.id, subject=child.user))
        assert (booked.patient, booked.subject) == (parent.user_id, child.user)
    async with server.client(doctor) as desk:
        patients = (await desk.call("patients.list", Empty())).patients
        assert [(p.user, p.source) for p in patients] == [(child.user, "appointment")]
