"""A patient and a practitioner, each in a browser of their own, talk end to
end: messages and a document, typing, receipts, a popup, and a reload that
keeps the keys and loses nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.async_api import Page, WebSocketRoute, expect

from tests.support.relay import BreakMessageNew
from tests.support.server import RunningServer
from tests.support.webapp import care_pair, open_conversation, open_thread, screenshot, write


async def test_patient_and_practitioner_exchange_messages_and_a_document(
    app_server: RunningServer, person, tmp_path
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Claire Martin", patient_name="Paul Durand"
    )
    doctor_page = await person(doctor.user_id)
    patient_page = await person(patient.user_id)

    await open_thread(app_server, patient, doctor)  # test_patient.py opens one through the UI
    await open_conversation(patient_page, "Dr Claire Martin")
    await write(patient_page, "Bonjour docteur, pourriez-vous renouveler mon ordonnance ?")
    conversation = patient_page.get_by_role("list", name="Messages")
    await expect(conversation.get_by_text("pourriez-vous renouveler")).to_be_visible()

    # The practitioner sees the request with its count and a popup.
    popup = doctor_page.get_by_role("status").filter(has_text="Nouveau message de Paul Durand")
    await expect(popup).to_be_visible()
    header = await doctor_page.locator("header.top").bounding_box()
    shown = await popup.bounding_box()
    assert header and shown and shown["y"] >= header["y"] + header["height"]  # not over its buttons
    await expect(doctor_page).to_have_title(re.compile(r"^\(1\) carehub"))
    await screenshot(doctor_page, "practitioner-inbox-popup")
    await open_conversation(doctor_page, "Paul Durand", first=True)
    doctor_thread = doctor_page.get_by_role("list", name="Messages")
    await expect(doctor_thread.get_by_text("pourriez-vous renouveler")).to_be_visible()
    await expect(doctor_page).to_have_title("carehub")

    # Read on the patient's side once the doctor has it open.
    mine = conversation.locator(".message.mine").last
    await expect(mine.locator(".status")).to_have_attribute("data-status", "read")

    # Typing shows on the other side.
    await doctor_page.get_by_label("Votre message").press_sequentially("Bien sûr")
    await expect(patient_page.get_by_text("Dr Claire Martin écrit…")).to_be_visible()

    # The doctor answers with a document; the patient opens it, decrypted in the browser.
    prescription = tmp_path / "ordonnance.pdf"
    prescription.write_bytes(b"%PDF-1.4 ordonnance renouvelee " + bytes(range(256)) * 40)
    await doctor_page.get_by_label("Joindre un document ou une photo").set_input_files(prescription)
    await write(doctor_page, "Voici votre ordonnance.")
    await expect(conversation.get_by_text("Voici votre ordonnance.")).to_be_visible()
    await conversation.get_by_role("button", name="Ouvrir ordonnance.pdf").click()
    link = conversation.get_by_role("link", name="ordonnance.pdf")
    async with patient_page.expect_download() as downloading:
        await link.click()
    downloaded = await (await downloading.value).path()
    assert downloaded is not None and downloaded.read_bytes() == prescription.read_bytes()
    await screenshot(patient_page, "patient-conversation")

    # Offline, then a reload: the keys are kept, what the doctor sent
    # meanwhile arrives (resumed) and counts once as unread.
    await patient_page.goto(app_server.base_url + "/#/")
    await expect(patient_page.get_by_role("heading", name="Conversations")).to_be_visible()
    await patient_page.context.set_offline(True)
    await write(doctor_page, "Pensez à prendre rendez-vous.")
    await patient_page.context.set_offline(False)
    await patient_page.reload()
    unread = patient_page.get_by_role("link", name=re.compile("Dr Claire Martin")).locator(".badge")
    await expect(unread).to_have_text("1")
    await expect(patient_page).to_have_title("(1) carehub")
    await open_conversation(patient_page, "Dr Claire Martin", first=True)
    reloaded = patient_page.get_by_role("list", name="Messages")
    for text in (
        "pourriez-vous renouveler",
        "Voici votre ordonnance.",
        "Pensez à prendre rendez-vous.",
    ):
        await expect(reloaded.get_by_text(text)).to_have_count(1)
    await expect(reloaded.get_by_text("ne peut pas être ouvert")).to_have_count(0)
    # The doctor's receipt came before the reload: the thread list carries it.
    first_sent = reloaded.locator(".message.mine").first.locator(".status")
    await expect(first_sent).to_have_attribute("data-status", "read")


async def test_a_background_tab_gets_a_system_notification(
    app_server: RunningServer, person
) -> None:
    """With the tab hidden and notifications allowed, a new message shows a
    system notification naming the sender (never the text); clicking it
    opens the conversation."""
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Hugo Blanc", patient_name="Emma Faure"
    )
    doctor_page = await person(doctor.user_id)
    await doctor_page.context.grant_permissions(["notifications"])
    await doctor_page.evaluate(
        """() => {
            Object.defineProperty(document, "visibilityState", { get: () => "hidden" });
            window.firstShown = new Promise((resolve) => {
                window.Notification = class {
                    static permission = "granted";
                    constructor(title, options) {
                        window.last = this;
                        resolve({ title, ...options });
                    }
                };
            });
        }"""
    )
    patient_page = await person(patient.user_id)
    thread = await open_thread(app_server, patient, doctor)
    await open_conversation(patient_page, "Dr Hugo Blanc")
    await write(patient_page, "Mes résultats sont arrivés, pouvez-vous les regarder ?")
    notification = await doctor_page.evaluate("window.firstShown")
    assert notification == {"title": "carehub", "body": "Emma Faure", "tag": f"thread-{thread}"}
    await doctor_page.evaluate("window.last.onclick()")
    await expect(doctor_page).to_have_url(re.compile(f"#/threads/{thread}$"))


async def test_no_reply_close_and_reopen_change_what_the_patient_may_do(
    app_server: RunningServer, person
) -> None:
    doctor_page, patient_page = await both_in_a_request(
        app_server,
        person,
        "Dr Léon Carré",
        "Maëlle Roy",
        "Mon certificat pour le sport, s'il vous plaît.",
    )

    # An answer that takes no reply: the patient reads why they cannot write.
    await doctor_page.get_by_role("button", name="Modèles et options de réponse").click()
    await doctor_page.get_by_label("Réponse", exact=True).fill(
        "Le certificat est joint à votre dossier."
    )
    await doctor_page.get_by_label("Ce message n'attend pas de réponse").check()
    await doctor_page.get_by_role("button", name="Envoyer la réponse").click()
    patient_view = patient_page.get_by_role("list", name="Messages")
    await expect(patient_view.get_by_text("Le certificat est joint")).to_be_visible()
    await expect(patient_page.get_by_text("n'attend pas de réponse")).to_be_visible()
    await expect(patient_page.get_by_label("Votre message")).to_have_count(0)

    # Closed, then reopened with a message that takes a reply.
    await doctor_page.get_by_role("button", name="Clore").click()
    await expect(patient_page.get_by_text("Cette conversation est close.")).to_be_visible()
    await expect(patient_view.get_by_text("Dr Léon Carré a clos la conversation.")).to_be_visible()
    await doctor_page.get_by_role("button", name="Rouvrir").click()
    await expect(
        patient_view.get_by_text("Dr Léon Carré a rouvert la conversation.")
    ).to_be_visible()
    await write(doctor_page, "Dites-moi s'il vous manque autre chose.")
    await expect(patient_page.get_by_label("Votre message")).to_be_visible()
    await write(patient_page, "Tout est bon, merci.")
    await expect(
        doctor_page.get_by_role("list", name="Messages").get_by_text("Tout est bon, merci.")
    ).to_be_visible()


async def test_the_inbox_lists_the_latest_conversation_first_after_a_reload(
    app_server: RunningServer, person
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Rémi Gautier", patient_name="Jade Lemoine"
    )
    first = await open_thread(app_server, patient, doctor, "exam_results")
    await open_thread(app_server, patient, doctor, "admin_document")  # newer, but silent
    await person(doctor.user_id)  # his first device: there is someone to seal for
    patient_page = await person(patient.user_id)
    await patient_page.goto(f"{app_server.base_url}/#/threads/{first}")
    await write(patient_page, "Mes résultats sont en pièce jointe.")
    sent = patient_page.get_by_role("list", name="Messages").get_by_text("Mes résultats sont")
    await expect(sent).to_be_visible()
    await patient_page.goto(app_server.base_url + "/#/")
    await patient_page.reload()  # nothing in memory: the order comes from the list
    titles = patient_page.locator(".threads li .muted")
    await expect(titles.first).to_contain_text("Résultats d'examens")
    await expect(titles.nth(1)).to_contain_text("Document administratif")


async def test_a_message_whose_event_the_server_broke_still_shows(
    app_server: RunningServer, person
) -> None:
    """The patient's socket passes through a route that breaks the next
    ``message.new`` frame's type (a server's bug): the app gets it as
    ``unreadable`` and reads its threads again, so the doctor's message
    shows though its event could not be read."""
    doctor_page, patient_page = await both_in_a_request(
        app_server,
        person,
        "Dr Inès Morel",
        "Louis Girard",
        "Le vaccin de rappel est-il nécessaire ?",
    )

    rewrite = BreakMessageNew()
    await patient_page.route_web_socket(re.compile(r"/ws$"), _breaking(rewrite))
    await patient_page.reload()
    conversation = patient_page.get_by_role("list", name="Messages")
    await expect(conversation.get_by_text("Le vaccin de rappel")).to_be_visible()

    await write(doctor_page, "Oui, avant la fin du mois.")
    await expect(conversation.get_by_text("Oui, avant la fin du mois.")).to_have_count(1)
    assert len(rewrite.broken) == 1  # the message came by reading again, not by its event


def _breaking(rewrite: BreakMessageNew) -> Callable[[WebSocketRoute], None]:
    """A route of the page's socket to the real server, its messages to the
    page through ``rewrite``."""

    def route(page_side: WebSocketRoute) -> None:
        def to_page(message: str | bytes) -> None:
            page_side.send(rewrite(message) if isinstance(message, bytes) else message)

        page_side.connect_to_server().on_message(to_page)

    return route


async def both_in_a_request(
    server: RunningServer, person: Any, doctor_name: str, patient_name: str, text: str
) -> tuple[Page, Page]:
    """A practitioner and their patient, each in a browser, in the request
    the patient opened and wrote ``text`` in: the doctor's page, the patient's."""
    doctor, patient = await care_pair(server, doctor_name=doctor_name, patient_name=patient_name)
    doctor_page = await person(doctor.user_id)
    patient_page = await person(patient.user_id)
    await open_thread(server, patient, doctor)
    await open_conversation(patient_page, doctor_name)
    await write(patient_page, text)
    await open_conversation(doctor_page, patient_name)
    return doctor_page, patient_page
