"""A patient's own screens in the browser: care invitations, finding a
practitioner (with the profession the directory gives) and opening a
request (for themselves or a relative), the refusals they read, their
relatives, and opting out of group messages."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from protocol.practice import BroadcastParams, InboxSettings, UserParams, VerifyParams
from tests.integration.test_directory import carehub, extract
from tests.support.server import RunningServer
from tests.support.webapp import (
    axe_violations,
    care_pair,
    open_conversation,
    open_thread,
    screenshot,
)
from tests.unit.test_rpps import line

NOT_A_PATIENT = "Vous pourrez écrire à ce praticien une fois devenu son patient"
EMERGENCY = "carehub n'est pas un service d'urgence"


async def new_request(page: Page) -> None:
    await page.get_by_role("link", name="Nouvelle demande").click()
    await expect(page.get_by_role("heading", name="Nouvelle demande", level=1)).to_be_visible()


async def choose_practitioner(page: Page, search: str, name: str) -> None:
    """Find the practitioner by (part of) their name and open what they allow."""
    await page.get_by_label("Rechercher un praticien par son nom").fill(search)
    await page.get_by_role("button", name=re.compile(name)).click()
    await expect(page.get_by_role("heading", name=name, level=2)).to_be_visible()


async def emergency_notice_comes_first(page: Page) -> bool:
    return await page.evaluate(
        """() => {
            const notice = document.querySelector(".emergency");
            const form = document.querySelector("textarea[name=message]");
            return !!notice && !!form
                && !!(notice.compareDocumentPosition(form) & Node.DOCUMENT_POSITION_FOLLOWING);
        }"""
    )


async def threads_of(server: RunningServer, user) -> list:
    async with server.client(user) as client:
        return (await client.call("threads.list")).threads


async def test_a_patient_opens_a_request_that_the_practitioner_receives(
    app_server: RunningServer, person, tmp_path
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Claire Martin-Delorme", patient_name="Paul Durand"
    )
    doctor_page = await person(doctor.user_id)
    page = await person(patient.user_id)

    await new_request(page)
    await choose_practitioner(page, "Martin-Delorme", "Dr Claire Martin-Delorme")
    await expect(page.locator(".emergency")).to_contain_text(EMERGENCY)
    assert await emergency_notice_comes_first(page)
    after_visit = page.get_by_role("radio", name=re.compile("Question après une consultation"))
    await expect(page.locator("label", has=after_visit)).to_contain_text("réponse sous 48 heures")
    renewal = page.get_by_role("radio", name=re.compile("Renouvellement d'ordonnance"))
    await expect(page.locator("label", has=renewal)).to_contain_text("réponse sous 3 jours")
    await after_visit.check()
    await page.get_by_label("Votre message").fill("Bonjour docteur, la douleur au genou persiste.")
    report = tmp_path / "radio-genou.pdf"
    report.write_bytes(b"%PDF-1.4 compte rendu " + bytes(range(256)) * 8)
    async with page.expect_file_chooser() as choosing:  # as a person clicks it
        await page.get_by_text("Joindre un document ou une photo (facultatif)").click()
    await (await choosing.value).set_files(report)
    await expect(page.get_by_text("Joint : radio-genou.pdf")).to_be_visible()
    native = page.get_by_text(re.compile("No file chosen|Aucun fichier choisi"))
    await expect(native).to_have_count(0)  # the browser's own control, beside the file
    await screenshot(page, "patient-new-request")
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Envoyer la demande", exact=True).click()

    await expect(page).to_have_url(re.compile(r"#/threads/\d+$"))
    conversation = page.get_by_role("list", name="Messages")
    await expect(conversation.get_by_text("la douleur au genou persiste")).to_be_visible()
    await expect(conversation.get_by_role("button", name="Ouvrir radio-genou.pdf")).to_be_visible()
    (thread,) = await threads_of(app_server, doctor)
    assert thread.reason == "after_visit" and thread.subject is None

    await open_conversation(doctor_page, "Paul Durand")
    received = doctor_page.get_by_role("list", name="Messages")
    await expect(received.get_by_text("la douleur au genou persiste")).to_be_visible()


async def test_a_patient_reads_the_profession_the_directory_gives(
    app_server: RunningServer, person, tmp_path
) -> None:
    pediatrician = line("10008880001", "FERREC", "Anaïs", "Médecin", "Pédiatrie")
    status, _ = await carehub(
        app_server, "admin", "import-rpps", extract(tmp_path / "rpps.txt", pediatrician)
    )
    assert status == 0
    listed = await app_server.user(
        "practitioner", "Dr Anaïs Ferrec", verified=False, publish_keys=False
    )
    await app_server.user("practitioner", "Dr Marc Ferrec", publish_keys=False)  # by name only
    async with app_server.client(await app_server.admin()) as admin:
        await admin.call("admin.verify", VerifyParams(listed.user_id, "10008880001"))
    patient = await app_server.user("patient", "Nina Perrin", publish_keys=False)
    page = await person(patient.user_id)

    await new_request(page)
    await page.get_by_label("Rechercher un praticien par son nom").fill("Ferrec")
    found = page.get_by_role("group", name="Praticiens trouvés").get_by_role("button")
    await expect(found).to_have_text(["Dr Anaïs Ferrec — Médecin · Pédiatrie", "Dr Marc Ferrec"])
    await found.first.click()
    chosen = page.get_by_role("region", name="Dr Anaïs Ferrec")
    await expect(chosen.get_by_text("Médecin · Pédiatrie", exact=True)).to_be_visible()
    assert await axe_violations(page) == []


async def test_someone_who_is_not_their_patient_reads_why_and_gets_no_form(
    app_server: RunningServer, person
) -> None:
    await app_server.user("practitioner", "Dr Hugo Bernard-Roy", publish_keys=False)
    stranger = await app_server.user("patient", "Lucie Perrin", publish_keys=False)
    page = await person(stranger.user_id)

    await new_request(page)
    await choose_practitioner(page, "Bernard-Roy", "Dr Hugo Bernard-Roy")
    await expect(page.get_by_text(NOT_A_PATIENT)).to_be_visible()
    await expect(page.get_by_label("Votre message")).to_have_count(0)
    await expect(page.get_by_role("button", name="Envoyer la demande")).to_have_count(0)
    await expect(page.locator(".emergency")).to_have_count(0)


async def test_a_refusal_when_sending_is_shown_and_the_message_kept(
    app_server: RunningServer, person
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Anne Roussel-Tan", patient_name="Marc Aubert"
    )
    async with app_server.client(doctor) as client:
        await client.call("inbox.set", InboxSettings(max_open_threads=1))
    page = await person(patient.user_id)
    await new_request(page)
    await choose_practitioner(page, "Roussel-Tan", "Dr Anne Roussel-Tan")
    await page.get_by_role("radio", name=re.compile("Renouvellement d'ordonnance")).check()
    await page.get_by_label("Votre message").fill("Mon ordonnance se termine vendredi.")

    # Meanwhile, from another device, the one request allowed is opened.
    await open_thread(app_server, patient, doctor, "exam_results")
    await page.get_by_role("button", name="Envoyer la demande", exact=True).click()
    await expect(page.get_by_role("alert")).to_contain_text("Vous avez déjà 1 demandes en cours")
    await expect(page.get_by_label("Votre message")).to_have_value(
        "Mon ordonnance se termine vendredi."
    )
    assert len(await threads_of(app_server, patient)) == 1


async def test_care_invitations_are_accepted_or_declined(app_server: RunningServer, person) -> None:
    doctor = await app_server.user("practitioner", "Dr Sophie Caron-Lenoir", publish_keys=False)
    other = await app_server.user("practitioner", "Dr Yves Morel-Pic", publish_keys=False)
    patient = await app_server.user("patient", "Nina Garnier", publish_keys=False)
    page = await person(patient.user_id)
    await new_request(page)

    for practitioner in (doctor, other):  # they arrive while the screen is open
        async with app_server.client(practitioner) as client:
            await client.call("patients.add", UserParams(patient.user_id))
    invitations = page.get_by_role("region", name="Invitations de praticiens")
    accepted = invitations.locator(".card", has_text="Dr Sophie Caron-Lenoir vous propose")
    declined = invitations.locator(".card", has_text="Dr Yves Morel-Pic vous propose")
    await accepted.get_by_role("button", name="Accepter").click()
    await expect(invitations.get_by_role("status")).to_have_text(
        "Invitation de Dr Sophie Caron-Lenoir acceptée."
    )
    await declined.get_by_role("button", name="Refuser").click()
    await expect(invitations.get_by_role("status")).to_have_text(
        "Invitation de Dr Yves Morel-Pic refusée."
    )
    await expect(invitations.locator(".card")).to_have_count(0)

    async with app_server.client(doctor) as client:
        listed = await client.call("patients.list")
        assert [p.user for p in listed.patients] == [patient.user_id]
    async with app_server.client(other) as client:
        listed = await client.call("patients.list")
        assert listed.patients == [] and listed.invited == []
    await choose_practitioner(page, "Caron-Lenoir", "Dr Sophie Caron-Lenoir")
    await expect(page.get_by_label("Votre message")).to_be_visible()


async def test_a_relative_is_added_and_a_request_opened_for_them(
    app_server: RunningServer, person
) -> None:
    pediatrician = await app_server.user("practitioner", "Dr Elsa Vidal-Ko", publish_keys=False)
    parent = await app_server.user("patient", "Julie Moreau", publish_keys=False)
    doctor_page = await person(pediatrician.user_id)  # her device: the request is sealed to it
    page = await person(parent.user_id)

    await page.get_by_role("link", name="Mes proches").click()
    await expect(page.get_by_text("Vous ne gérez encore le profil d'aucun proche.")).to_be_visible()
    await page.get_by_label("Nom et prénom").fill("Léo Moreau")
    await page.get_by_label("Ce proche est votre…").select_option("child")
    await page.get_by_label("Date de naissance").fill("2019-03-12")
    await page.get_by_label("Accord de votre proche").fill(
        "Je suis la mère de Léo et je gère ses échanges de santé jusqu'à ses 15 ans."
    )
    await page.get_by_role("button", name="Ajouter ce proche").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Léo Moreau fait maintenant partie de vos proches."
    )
    row = page.get_by_role("row", name=re.compile("Léo Moreau"))
    await expect(row).to_contain_text("Enfant")
    await expect(row).to_contain_text("12 mars 2019")
    await expect(row).to_contain_text("jusqu'à ses 15 ans")
    await screenshot(page, "patient-relatives")
    assert await axe_violations(page) == []

    async with app_server.client(parent) as client:
        (child,) = (await client.call("relatives.list")).relatives
    assert child.birth_date == "2019-03-12"  # how her practitioners find him
    async with app_server.client(pediatrician) as client:
        await client.call("patients.add", UserParams(child.user))
    await new_request(page)
    invitation = page.get_by_text("Dr Elsa Vidal-Ko propose de suivre Léo Moreau comme patient.")
    await expect(invitation).to_be_visible()
    await page.get_by_role("button", name="Accepter").click()
    await expect(invitation).to_have_count(0)

    # The parent is not her patient; Léo is, so the form is for him only.
    await choose_practitioner(page, "Vidal-Ko", "Dr Elsa Vidal-Ko")
    await expect(page.get_by_text(NOT_A_PATIENT)).to_be_visible()
    await expect(page.get_by_role("combobox", name="Pour")).to_have_text("Léo Moreau (enfant)")
    await page.get_by_role("radio", name=re.compile("Question après une consultation")).check()
    await page.get_by_label("Votre message").fill("Léo tousse encore depuis la consultation.")
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Envoyer la demande", exact=True).click()

    conversation = page.get_by_role("list", name="Messages")
    await expect(conversation.get_by_text("Léo tousse encore")).to_be_visible()
    (thread,) = await threads_of(app_server, pediatrician)
    assert thread.subject == child.user and thread.reason == "after_visit"
    await open_conversation(doctor_page, "Julie Moreau")
    received = doctor_page.get_by_role("list", name="Messages")
    await expect(received.get_by_text("Léo tousse encore")).to_be_visible()

    # Giving the profile up: the parent leaves Léo's conversation, the doctor keeps it.
    await page.get_by_role("link", name="Mes proches").click()
    await page.get_by_role("button", name="Ne plus gérer le profil de Léo Moreau").click()
    await page.get_by_role("button", name="Oui, ne plus gérer ce profil").click()
    await expect(page.get_by_text("Vous ne gérez encore le profil d'aucun proche.")).to_be_visible()
    await page.get_by_role("link", name="Messages").click()
    await expect(page.get_by_role("link", name=re.compile("Vidal-Ko"))).to_have_count(0)
    await expect(received.get_by_text("Léo tousse encore")).to_be_visible()


async def test_opting_out_of_group_messages_is_honoured_by_the_server(
    app_server: RunningServer, person
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Paul Fabre-Lim", patient_name="Rose Lambert"
    )
    page = await person(patient.user_id)
    await new_request(page)
    await choose_practitioner(page, "Fabre-Lim", "Dr Paul Fabre-Lim")
    campaigns = page.get_by_role("group", name="Recevoir ses messages collectifs (campagnes)")

    async def broadcast_skips() -> list[tuple[int, str]]:
        async with app_server.client(doctor) as client:
            result = await client.call(
                "broadcasts.create", BroadcastParams([patient.user_id], "flu")
            )
        return [(skip.patient, skip.reason) for skip in result.skipped]

    receive = campaigns.get_by_label("Recevoir les messages collectifs de Dr Paul Fabre-Lim")
    await expect(receive).to_be_checked()  # nobody is opted out at first
    await receive.uncheck()
    await expect(campaigns.get_by_role("status")).to_have_text(
        "Vous ne recevrez plus les messages collectifs de Dr Paul Fabre-Lim."
    )
    assert await broadcast_skips() == [(patient.user_id, "opted_out")]

    # Where the patient stands comes from the server: a reload shows it.
    await page.reload()
    await choose_practitioner(page, "Fabre-Lim", "Dr Paul Fabre-Lim")
    await expect(receive).not_to_be_checked()
    await receive.check()
    await expect(campaigns.get_by_role("status")).to_have_text(
        "Vous recevrez les messages collectifs de Dr Paul Fabre-Lim."
    )
    assert await broadcast_skips() == []
