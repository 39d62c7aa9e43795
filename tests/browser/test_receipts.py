"""A receipt the server keeps waiting (to store it with another write)
holds nothing back in the app: the events after it still show at once."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from tests.browser.conftest import people, serving_the_app
from tests.support.webapp import care_pair, open_thread, write


async def test_a_receipt_kept_waiting_holds_back_no_later_event(
    browser: Browser, tmp_path: Path
) -> None:
    # Nothing stores the receipt meanwhile: no write (the reminders' round
    # is one), no heartbeat's answer queued behind it.
    quiet = {
        "receipts_wait_seconds": 3600,
        "heartbeat_seconds": 3600,
        "reminder_poll_seconds": 3600,
    }
    with serving_the_app(tmp_path, **quiet) as server:
        doctor, patient = await care_pair(
            server, doctor_name="Dr Claire Martin", patient_name="Paul Durand"
        )
        renewal = await open_thread(server, patient, doctor)
        results = await open_thread(server, patient, doctor, "exam_results")
        async with people(browser, server) as person:
            doctor_page = await person(doctor.user_id)
            patient_page = await person(patient.user_id)
            await patient_page.goto(f"{server.base_url}/#/threads/{results}")
            for thread in (results, renewal):  # both read: the doctor's receipts go with the send
                await doctor_page.goto(f"{server.base_url}/#/threads/{thread}")
                await expect(doctor_page.get_by_label("Votre message")).to_be_visible()

            # An answer in the other conversation: the patient's app says it
            # arrived, and the server keeps that receipt for the next write.
            await write(doctor_page, "Votre ordonnance est prête.")
            unread = patient_page.get_by_role("link", name="Renouvellement d'ordonnance")
            await expect(unread).to_contain_text("Dr Claire Martin1")  # 1: its unread count

            # No write comes, yet what follows shows: the doctor typing here.
            commits = await server.healthz("commits")
            await doctor_page.goto(f"{server.base_url}/#/threads/{results}")
            await doctor_page.get_by_label("Votre message").press_sequentially("Vos résultats")
            await expect(patient_page.get_by_text("Dr Claire Martin écrit…")).to_be_visible()

            # All the while, the receipt waited: the doctor's answer is not yet "Distribué".
            await doctor_page.goto(f"{server.base_url}/#/threads/{renewal}")
            answer = doctor_page.get_by_role("list", name="Messages").locator(".message.mine").last
            await expect(answer.locator(".status")).to_have_attribute("data-status", "sent")
            assert await server.healthz("commits") == commits
