"""A person's notification settings in the web app: quiet hours in a time
zone, do-not-disturb, and a patient's email, saved through ``notify.set``
and read back after a reload; a conversation muted from its header, marked
in the inbox, and still muted after a reload."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Locator, Page, expect

from protocol.model import Empty
from protocol.practice import WeeklySpan
from tests.support.server import RunningServer
from tests.support.webapp import (
    Person,
    axe_violations,
    care_pair,
    open_conversation,
    open_thread,
    screenshot,
)

BROWSER_ZONE = ZoneInfo("Europe/Paris")  # the browser contexts' time zone (conftest)
EVENINGS = [WeeklySpan(day, "19:00", "08:00") for day in range(5)]


async def open_settings(page: Page) -> None:
    await page.get_by_role("navigation").get_by_role("link", name="Notifications").click()
    await expect(page.get_by_role("heading", name="Ne pas déranger")).to_be_visible()


def dnd_status(page: Page) -> Locator:
    return page.get_by_role("region", name="Ne pas déranger").get_by_role("status")


async def test_quiet_hours_do_not_disturb_and_email_are_saved_and_read_back(
    app_server: RunningServer, person: Person
) -> None:
    patient = await app_server.user("patient", "Claire Morel", publish_keys=False)
    page = await person(patient.user_id)
    await open_settings(page)
    zone = page.get_by_label("Fuseau horaire des heures calmes")
    await expect(zone).to_have_value("Europe/Paris")  # the browser's, until one is chosen
    await page.get_by_role("button", name=re.compile("^Ajouter les soirs de semaine")).click()
    await zone.select_option("America/Toronto")
    email = page.get_by_label("Me prévenir par e-mail quand je n'ai pas l'application")

    # An address the server would refuse is refused here first, in words.
    await email.fill("claire@localhost")
    await page.get_by_role("button", name="Enregistrer les notifications").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Cette adresse e-mail est incomplète (par exemple : nom@exemple.fr)."
    )
    await email.fill("claire.morel@example.fr")
    await page.get_by_role("button", name="Enregistrer les notifications").click()
    await expect(page.get_by_role("status").filter(has_text="Enregistré")).to_have_text(
        "Enregistré."
    )

    await page.get_by_role("button", name="Jusqu'à demain 8 h").click()
    await expect(dnd_status(page)).to_have_text(re.compile(r"^Activé jusqu'au .* 08:00\.$"))
    async with app_server.client(patient) as client:
        kept = await client.call("notify.get", Empty())
    assert (kept.quiet_hours, kept.time_zone, kept.email) == (
        EVENINGS,
        "America/Toronto",
        "claire.morel@example.fr",
    )
    assert kept.do_not_disturb_until is not None
    until = datetime.fromtimestamp(kept.do_not_disturb_until / 1000, BROWSER_ZONE)
    now = datetime.now(BROWSER_ZONE)
    assert (until.hour, until.minute) == (8, 0) and now < until <= now + timedelta(hours=32)

    await page.reload()
    await open_settings(page)
    await expect(page.get_by_role("group", name="Créneau 5")).to_be_visible()
    await expect(page.get_by_role("group", name="Créneau 6")).to_have_count(0)
    await expect(zone).to_have_value("America/Toronto")
    await expect(email).to_have_value("claire.morel@example.fr")
    await expect(dnd_status(page)).to_have_text(re.compile("^Activé jusqu'au"))
    await screenshot(page, "notifications-settings")

    await page.get_by_role("button", name="Désactiver").click()
    await expect(dnd_status(page)).to_have_text("Désactivé.")
    async with app_server.client(patient) as client:
        kept = await client.call("notify.get", Empty())
    assert kept.do_not_disturb_until is None and kept.email == "claire.morel@example.fr"


async def test_do_not_disturb_until_a_chosen_moment(
    app_server: RunningServer, person: Person
) -> None:
    doctor = await app_server.user("practitioner", "Dr Lucie Petit", publish_keys=False)
    page = await person(doctor.user_id)
    await open_settings(page)
    # The email is a patient's: a practitioner's app reaches them.
    await expect(page.get_by_label(re.compile("par e-mail"))).to_have_count(0)
    await page.get_by_role("button", name="Choisir…").click()
    end = page.get_by_label("Fin", exact=True)
    await end.fill((datetime.now(BROWSER_ZONE) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Activer jusqu'à cette heure").click()
    await expect(page.get_by_role("alert")).to_have_text("Choisissez un moment à venir.")
    chosen = (datetime.now(BROWSER_ZONE) + timedelta(days=2)).replace(
        hour=14, minute=30, second=0, microsecond=0
    )
    await end.fill(chosen.strftime("%Y-%m-%dT%H:%M"))
    await page.get_by_role("button", name="Activer jusqu'à cette heure").click()
    await expect(dnd_status(page)).to_have_text(re.compile(r"^Activé jusqu'au .* 14:30\.$"))
    async with app_server.client(doctor) as client:
        kept = await client.call("notify.get", Empty())
    assert kept.do_not_disturb_until == int(chosen.timestamp() * 1000)


async def test_the_notification_screen_has_no_accessibility_violations(
    app_server: RunningServer, person: Person
) -> None:
    patient = await app_server.user("patient", publish_keys=False)
    page = await person(patient.user_id)
    await open_settings(page)
    await page.get_by_role("button", name="Ajouter le week-end").click()
    await page.get_by_role("button", name="Choisir…").click()
    await expect(page.get_by_label("Fin", exact=True)).to_be_visible()
    assert await axe_violations(page) == []


async def test_a_muted_conversation_is_marked_and_stays_muted(
    app_server: RunningServer, person: Person
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Marc Blanc", patient_name="Jeanne Roy"
    )
    await person(doctor.user_id)
    thread = await open_thread(app_server, patient, doctor)
    page = await person(patient.user_id)
    link = page.get_by_role("link", name=re.compile("Dr Marc Blanc"))
    await expect(link).not_to_contain_text("en sourdine")
    await open_conversation(page, "Dr Marc Blanc")
    await page.get_by_role("button", name="Mettre en sourdine").click()
    await expect(page.get_by_role("button", name="Réactiver les notifications")).to_be_visible()
    await expect(link).to_contain_text("en sourdine")
    await screenshot(page, "conversation-muted")
    assert await axe_violations(page) == []

    await page.reload()
    await expect(link).to_contain_text("en sourdine")
    await expect(
        page.get_by_text("En sourdine : aucune notification, sur aucun appareil")
    ).to_be_visible()
    async with app_server.client(patient) as mine, app_server.client(doctor) as theirs:
        assert [t.muted for t in (await mine.call("threads.list", Empty())).threads] == [True]
        assert [t.muted for t in (await theirs.call("threads.list", Empty())).threads] == [False]

    await page.get_by_role("button", name="Réactiver les notifications").click()
    await expect(page.get_by_role("button", name="Mettre en sourdine")).to_be_visible()
    await expect(link).not_to_contain_text("en sourdine")
    async with app_server.client(patient) as mine:
        [info] = (await mine.call("threads.list", Empty())).threads
    assert (info.id, info.muted) == (thread, False)
