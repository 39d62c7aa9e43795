"""Booking in the browser: the practitioner opens their agenda through the
settings form; a patient holds a slot and watches its countdown while a
second patient racing for it is refused; the patient confirms, moves and
cancels; the practitioner sees the appointments by day and by week.

Every slot is taken days ahead (the agenda asks for two hours' notice and
a day's notice to cancel), so the time of day the tests run at never matters."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Locator, Page, expect

from clients import Credentials
from protocol.booking import (
    AgendaSettings,
    ConfirmParams,
    HoldParams,
    OpeningHours,
    SlotsParams,
    VisitReason,
)
from protocol.e2e import Scope
from tests.support.server import RunningServer
from tests.support.webapp import axe_violations, screenshot

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]
CONSULTATION = VisitReason("consultation", "Consultation", 30)
MORNINGS = AgendaSettings(
    reasons=[CONSULTATION],
    hours=[OpeningHours(day, "09:00", "12:00", ["consultation"]) for day in range(7)],
)


def span(start: str, end: str) -> str:
    """From one time to another, as the app writes it (with an en dash)."""
    return f"{start} \u2013 {end}"


def paris_today() -> date:
    return datetime.now(PARIS).date()


def french_day(day: date) -> str:
    """A day as the app writes it in French: "Jeudi 12 mars"."""
    return f"{WEEKDAYS[day.weekday()].capitalize()} {day.day} {MONTHS[day.month - 1]}"


def paris_ms(day: date, clock: str) -> int:
    hours, minutes = (int(part) for part in clock.split(":"))
    moment = datetime(day.year, day.month, day.day, hours, minutes, tzinfo=PARIS)
    return int(moment.timestamp() * 1000)


async def agenda_of_mornings(server: RunningServer, name: str) -> Credentials:
    """A practitioner consulting every morning, 09:00 to 12:00, set through the API."""
    doctor = await server.user("practitioner", name, publish_keys=False)
    async with server.client(doctor) as desk:
        await desk.call("agenda.set", MORNINGS)
    return doctor


async def booked(
    server: RunningServer, patient: Credentials, doctor: Credentials, start: int
) -> int:
    async with server.client(patient) as me:
        held = await me.call("booking.hold", HoldParams(doctor.user_id, "consultation", start))
        return (await me.call("booking.confirm", ConfirmParams(held.id))).id


async def open_booking(page: Page, search: str, practitioner: str) -> None:
    """The patient's appointments screen, the practitioner found by name."""
    await page.get_by_role("link", name="Rendez-vous").click()
    await page.get_by_label("Rechercher un praticien").fill(search)
    await page.get_by_role("button", name="Rechercher", exact=True).click()
    await page.get_by_role("button", name=practitioner).click()


def slots_of(page: Page, day: date) -> Locator:
    return page.get_by_role("group", name=french_day(day), exact=True)


async def test_a_patient_holds_a_slot_a_rival_is_refused_and_the_practitioner_sees_it(
    app_server: RunningServer, person
) -> None:
    doctor = await app_server.user("practitioner", "Dr Inès Valois", publish_keys=False)
    alice = await app_server.user("patient", "Alice Roux", publish_keys=False)
    bruno = await app_server.user("patient", "Bruno Petit", publish_keys=False)
    day = paris_today() + timedelta(days=3)

    # The practitioner opens mornings on that weekday, in the settings form.
    desk = await person(doctor.user_id)
    await desk.get_by_role("link", name="Agenda").click()
    await expect(desk.get_by_text("Votre agenda n'est pas encore ouvert")).to_be_visible()
    await desk.get_by_role("button", name="Réglages").click()
    await desk.get_by_role("button", name="Ajouter un type de consultation").click()
    await desk.get_by_label("Nom", exact=True).fill("Consultation")
    await desk.get_by_label("Durée (minutes)").fill("30")
    weekday = desk.get_by_role("group", name=WEEKDAYS[day.weekday()].capitalize(), exact=True)
    await weekday.get_by_role("button", name="Ajouter une plage").click()
    await weekday.get_by_label("De", exact=True).fill("09:00")
    await weekday.get_by_label("À", exact=True).fill("12:00")
    assert await axe_violations(desk) == []
    await desk.get_by_role("button", name="Enregistrer les réglages").click()
    await expect(
        desk.get_by_role("status").filter(has_text="Réglages enregistrés.")
    ).to_be_visible()

    # Both patients look at the same free slots.
    first = await person(alice.user_id)
    rival = await person(bruno.user_id)
    for page in (first, rival):
        await open_booking(page, "Valois", "Dr Inès Valois")
        await expect(slots_of(page, day).get_by_role("button", name="09:00")).to_be_visible()

    # The first holds 09:00 and sees the time left, counting down.
    await slots_of(first, day).get_by_role("button", name="09:00").click()
    hold = first.get_by_role("region", name="Confirmez votre rendez-vous")
    for seen in (french_day(day), span("09:00", "09:30"), "Dr Inès Valois", "Consultation"):
        await expect(hold).to_contain_text(seen)
    countdown = hold.get_by_role("timer")
    await expect(countdown).to_have_text(re.compile(r"^1[45]:\d\d$"))
    await expect(countdown).to_have_class("countdown")
    shown = await countdown.inner_text()
    await expect(countdown).not_to_have_text(shown)
    assert await axe_violations(first) == []
    await screenshot(first, "patient-booking-hold")

    # The rival, on slots shown before the hold, is refused; the slots refresh.
    await slots_of(rival, day).get_by_role("button", name="09:00").click()
    await expect(rival.get_by_role("alert")).to_contain_text(
        "Ce créneau vient d'être pris : choisissez-en un autre."
    )
    await expect(slots_of(rival, day).get_by_role("button", name="09:00")).to_have_count(0)
    await expect(slots_of(rival, day).get_by_role("button", name="09:30")).to_be_visible()
    await expect(rival.get_by_role("timer")).to_have_count(0)

    # The first confirms within the hold.
    await first.get_by_role("button", name="Confirmer le rendez-vous").click()
    await expect(
        first.get_by_role("status").filter(has_text="Rendez-vous confirmé")
    ).to_be_visible()
    upcoming = first.get_by_role("region", name="À venir")
    await expect(upcoming).to_contain_text(span("09:00", "09:30"))
    await expect(upcoming).to_contain_text("Dr Inès Valois")
    await expect(upcoming).to_contain_text("Confirmé")

    # The practitioner's day view shows it.
    await desk.get_by_role("button", name="Jour", exact=True).click()
    await desk.get_by_label("Aller au").fill(day.isoformat())
    await expect(desk.get_by_role("heading", name=french_day(day))).to_be_visible()
    row = desk.get_by_role("row").filter(has_text="Alice Roux")
    for seen in (span("09:00", "09:30"), "Consultation", "Confirmé"):
        await expect(row).to_contain_text(seen)
    await expect(desk.get_by_role("row").filter(has_text="Bruno Petit")).to_have_count(0)
    assert await axe_violations(desk) == []
    await screenshot(desk, "practitioner-agenda-day")


async def test_a_patient_moves_then_cancels_an_appointment(
    app_server: RunningServer, person
) -> None:
    doctor = await agenda_of_mornings(app_server, "Dr Marc Lenoir")
    patient = await app_server.user("patient", "Chloé Garnier", publish_keys=False)
    day = paris_today() + timedelta(days=4)
    appointment = await booked(app_server, patient, doctor, paris_ms(day, "09:00"))

    page = await person(patient.user_id)
    await page.get_by_role("link", name="Rendez-vous").click()
    card = (
        page.get_by_role("region", name="À venir")
        .locator(".card")
        .filter(has_text="Dr Marc Lenoir")
    )
    await expect(card).to_contain_text(span("09:00", "09:30"))
    await expect(card).to_contain_text("Vous pouvez le déplacer ou l'annuler jusqu'au")

    # Moved to 10:30 the same day.
    await card.get_by_role("button", name="Déplacer").click()
    other = slots_of(page, day).get_by_role("button", name="10:30")
    await expect(other).to_be_visible()  # the slots are there
    mine = slots_of(page, day).get_by_role("button", name="09:00")
    await expect(mine).to_have_count(0)  # and its own slot is not among them
    assert await axe_violations(page) == []
    await other.click()
    await card.get_by_role("button", name="Confirmer le déplacement").click()
    await expect(page.get_by_role("status").filter(has_text="Rendez-vous déplacé")).to_be_visible()
    await expect(card).to_contain_text(span("10:30", "11:00"))
    async with app_server.client(patient) as me:
        listed = (await me.call("booking.list", {})).appointments
    assert [(a.id, a.starts_at) for a in listed] == [(appointment, paris_ms(day, "10:30"))]

    # Then cancelled, after a second thought.
    await card.get_by_role("button", name="Annuler le rendez-vous").click()
    await card.get_by_role("button", name="Garder le rendez-vous").click()
    await expect(card).to_contain_text("Confirmé")
    await card.get_by_role("button", name="Annuler le rendez-vous").click()
    await card.get_by_role("button", name="Confirmer l'annulation").click()
    await expect(page.get_by_role("status").filter(has_text="annulé")).to_be_visible()
    await expect(card).to_contain_text("Annulé")
    await expect(card.get_by_role("button")).to_have_count(0)


async def test_the_week_view_shows_each_appointment_on_its_day(
    app_server: RunningServer, person
) -> None:
    doctor = await agenda_of_mornings(app_server, "Dr Rose Aubert")
    denise = await app_server.user("patient", "Denise Morel", publish_keys=False)
    emile = await app_server.user("patient", "Émile Faure", publish_keys=False)
    today = paris_today()
    # Next week's Monday: days ahead, whatever day today is.
    monday = today + timedelta(days=7 - today.weekday())
    tuesday, thursday = monday + timedelta(days=1), monday + timedelta(days=3)
    await booked(app_server, denise, doctor, paris_ms(tuesday, "10:00"))
    await booked(app_server, emile, doctor, paris_ms(thursday, "11:30"))

    desk = await person(doctor.user_id)
    await desk.get_by_role("link", name="Agenda").click()
    await desk.get_by_role("button", name="Semaine", exact=True).click()
    await desk.get_by_role("button", name="Semaine suivante →").click()
    heading = f"Semaine du {french_day(monday).lower()}"
    await expect(desk.get_by_role("heading", name=heading)).to_be_visible()
    week = [monday + timedelta(days=i) for i in range(7)]
    columns = {day: desk.get_by_role("region", name=french_day(day), exact=True) for day in week}
    await expect(columns[tuesday]).to_contain_text("10:00 Denise Morel")
    await expect(columns[thursday]).to_contain_text("11:30 Émile Faure")
    for day, column in columns.items():
        await expect(column.get_by_text("Denise Morel")).to_have_count(int(day == tuesday))
        await expect(column.get_by_text("Émile Faure")).to_have_count(int(day == thursday))
    assert await axe_violations(desk) == []
    await screenshot(desk, "practitioner-agenda-week")

    # A day's heading opens that day.
    await columns[thursday].get_by_role("button").click()
    await expect(desk.get_by_role("row").filter(has_text="Émile Faure")).to_contain_text(
        span("11:30", "12:00")
    )


async def test_an_assistant_keeping_the_agenda_works_it(app_server: RunningServer, person) -> None:
    # The practitioner's keys are published: the delegation is signed by their identity device.
    doctor = await app_server.user("practitioner", "Dr Paul Mercier")
    async with app_server.client(doctor) as desk:
        await desk.call("agenda.set", MORNINGS)
    assistant = await app_server.assistant_of(doctor, publish_keys=False)
    await app_server.delegate(doctor, assistant, [Scope.AGENDA])
    patient = await app_server.user("patient", "Gaëlle Simon", publish_keys=False)
    day = paris_today() + timedelta(days=5)
    await booked(app_server, patient, doctor, paris_ms(day, "11:00"))

    page = await person(assistant.user_id)
    await page.get_by_role("link", name="Agenda").click()
    await expect(page.get_by_role("heading", name="Agenda de Dr Paul Mercier")).to_be_visible()
    # The hours are the practitioner's: no settings for the assistant.
    await expect(page.get_by_role("button", name="Réglages")).to_have_count(0)
    await page.get_by_label("Aller au").fill(day.isoformat())
    row = page.get_by_role("row").filter(has_text=span("11:00", "11:30"))
    await expect(row).to_contain_text("Consultation")
    await expect(row).to_contain_text("Confirmé")

    # The assistant blocks the first hour of that morning: its slots are no longer offered.
    await page.get_by_role("button", name="Ajouter une absence ou une ouverture").click()
    await page.get_by_label("Type").select_option(label="Temps bloqué")
    await page.get_by_label("Début").fill(f"{day.isoformat()}T09:00")
    await page.get_by_label("Fin").fill(f"{day.isoformat()}T10:00")
    await page.get_by_label("Note (pour le cabinet)").fill("Réunion d'équipe")
    await page.get_by_role("button", name="Ajouter", exact=True).click()
    blocked = f"Temps bloqué · {span('09:00', '10:00')} · Réunion d'équipe"
    await expect(page.get_by_text(blocked)).to_be_visible()
    async with app_server.client(patient) as me:
        morning = SlotsParams(
            doctor.user_id, "consultation", paris_ms(day, "09:00"), paris_ms(day, "12:00")
        )
        free = (await me.call("agenda.slots", morning)).slots
    assert free == [paris_ms(day, "10:00"), paris_ms(day, "10:30"), paris_ms(day, "11:30")]
