"""The practice side in the browser: a doctor delegates their inbox to a
secretary who answers for them (and the patient sees who answered), a
campaign to several patients, a practice and its care-team conversation,
and a conversation's audit trail with its JSON export."""

from __future__ import annotations

import json
import re

from playwright.async_api import expect

from protocol.methods import AccountParams
from protocol.practice import PracticeCreateParams, PractitionerParams
from tests.support.server import RunningServer
from tests.support.webapp import care_pair, open_conversation, open_thread, screenshot, write


async def test_a_secretary_answers_for_the_doctor_and_the_patient_sees_who_answered(
    app_server: RunningServer, person
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Claire Martin", patient_name="Paul Durand"
    )
    secretary = await app_server.user("assistant", "Camille Petit", publish_keys=False)
    async with app_server.client(doctor) as client:
        practice = await client.call("practices.create", PracticeCreateParams("Cabinet du Parc"))
    await app_server.join_practice(doctor, practice.id, secretary)

    # The doctor delegates reading and replying from the Team screen: the
    # browser signs the new device list with the identity key it holds.
    doctor_page = await person(doctor.user_id)
    await doctor_page.get_by_role("link", name="Cabinet et équipe").click()
    delegates = doctor_page.get_by_role("region", name="Délégations")
    await expect(delegates.get_by_text("Vous n'avez délégué à personne.")).to_be_visible()
    await delegates.get_by_label("Assistant(e) ou robot").select_option(
        label="Camille Petit (Assistant(e), Cabinet du Parc)"
    )
    read = delegates.get_by_role("checkbox", name=re.compile("^Lire"))
    reply = delegates.get_by_role("checkbox", name=re.compile("^Répondre"))
    await read.uncheck()
    await expect(reply).not_to_be_checked()  # replying needs reading
    await reply.check()
    await expect(read).to_be_checked()
    await delegates.get_by_role("button", name="Déléguer").click()
    await expect(delegates.get_by_role("status")).to_have_text("Délégation signée et publiée.")
    given = delegates.get_by_role("listitem").first
    await expect(given).to_contain_text("Camille Petit · Lire, Répondre · sans date de fin")
    await expect(given.get_by_role("button")).to_have_text("Retirer la délégation de Camille Petit")
    await screenshot(doctor_page, "practitioner-team")

    # The secretary sees, read-only, whose inbox they work.
    secretary_page = await person(secretary.user_id)
    await secretary_page.get_by_role("link", name="Cabinet et équipe").click()
    working = secretary_page.get_by_role("region", name="Boîtes de réception que vous traitez")
    await expect(working.get_by_role("listitem")).to_have_text(
        "Dr Claire Martin · Lire, Répondre · sans date de fin"
    )
    await expect(working.get_by_role("button")).to_have_count(0)
    await secretary_page.get_by_role("link", name="Messages").click()

    # The patient writes; the secretary's browser gets it in the doctor's inbox.
    thread = await open_thread(app_server, patient, doctor)
    patient_page = await person(patient.user_id)
    await open_conversation(patient_page, "Dr Claire Martin")
    await write(patient_page, "Bonjour, puis-je avoir un rendez-vous cette semaine ?")
    await secretary_page.get_by_role("link", name="Paul Durand (pour Dr Claire Martin)").click()
    await expect(
        secretary_page.get_by_role("heading", name="Paul Durand (pour Dr Claire Martin)")
    ).to_be_visible()
    conversation = secretary_page.get_by_role("list", name="Messages")
    await expect(conversation.get_by_text("puis-je avoir un rendez-vous")).to_be_visible()
    await write(secretary_page, "Le docteur peut vous recevoir jeudi à 10 h.")
    await expect(conversation.get_by_text("jeudi à 10 h")).to_be_visible()
    await screenshot(secretary_page, "secretary-answers")

    # The patient sees the answer, and who wrote it for whom.
    answer = patient_page.locator(".message").filter(has_text="jeudi à 10 h")
    await expect(answer.locator(".meta strong")).to_have_text("Camille Petit pour Dr Claire Martin")

    # The doctor's audit trail says so too.
    await doctor_page.goto(f"{app_server.base_url}/#/threads/{thread}/audit")
    sent_by_secretary = doctor_page.get_by_role("row").filter(
        has_text="Camille Petit pour Dr Claire Martin"
    )
    await expect(sent_by_secretary).to_contain_text("Message envoyé")


async def test_a_campaign_reaches_patients_and_says_who_was_skipped(
    app_server: RunningServer, person
) -> None:
    doctor = await app_server.user("practitioner", "Dr Hélène Roux", publish_keys=False)
    reached = await app_server.user("patient", "Lucie Bernard", publish_keys=False)
    opted_out = await app_server.user("patient", "Marc Lefebvre", publish_keys=False)
    newcomer = await app_server.user("patient", "Inès Moreau", publish_keys=False)
    for patient in (reached, opted_out):
        await app_server.add_patient(doctor, patient)
    async with app_server.client(opted_out) as client:
        await client.call("broadcasts.opt_out", PractitionerParams(doctor.user_id))
    async with app_server.client(reached) as client:
        await client.call("account.set", AccountParams(birth_date="1979-11-02"))
    patient_page = await person(reached.user_id)  # its first device: the campaign is sealed for it
    doctor_page = await person(doctor.user_id)
    await doctor_page.get_by_role("link", name="Patients").click()
    await expect(doctor_page.get_by_role("cell", name="Lucie Bernard")).to_be_visible()
    await expect(doctor_page.get_by_role("cell", name="Marc Lefebvre")).to_be_visible()

    # Finding one's patient by name and date of birth (French date field: day, month, year).
    finder = doctor_page.get_by_role("region", name="Retrouver un patient")
    await finder.get_by_label("Nom").fill("lucie")
    await finder.get_by_label("Date de naissance").fill("1979-11-02")
    await finder.get_by_role("button", name="Rechercher").click()
    await expect(finder.get_by_role("list", name="Patients trouvés")).to_have_text(
        f"Lucie Bernard — n° {reached.user_id}"
    )

    # Adding a patient by account number asks them first.
    await doctor_page.get_by_label("Numéro de compte du patient").fill(str(newcomer.user_id))
    await doctor_page.get_by_role("button", name="Inviter ce patient").click()
    await expect(doctor_page.get_by_role("status")).to_have_text(
        f"Invitation envoyée : le patient n° {newcomer.user_id} deviendra votre patient"
        " quand il l'aura acceptée."
    )
    await expect(
        doctor_page.get_by_text(f"En attente de leur réponse : n° {newcomer.user_id}")
    ).to_be_visible()

    campaign = doctor_page.get_by_role("form", name="Message à plusieurs patients")
    send = campaign.get_by_role("button", name=re.compile("^Envoyer"))
    await expect(send).to_be_disabled()
    await campaign.get_by_role("checkbox", name="Tout sélectionner").check()
    await expect(campaign.get_by_role("checkbox", name="Marc Lefebvre")).to_be_checked()
    await campaign.get_by_label("Motif (facultatif)").fill("flu_vaccine")
    await campaign.get_by_label("Message", exact=True).fill(
        "La vaccination contre la grippe est ouverte au cabinet."
    )
    await expect(send).to_have_text("Envoyer à 2 patients")
    await send.click()
    outcome = campaign.get_by_role("status")
    await expect(outcome).to_contain_text("Message envoyé à 1 patient.")
    await expect(outcome.get_by_role("listitem")).to_have_text(
        ["Marc Lefebvre ne souhaite pas recevoir vos messages groupés"]
    )
    await screenshot(doctor_page, "practitioner-patients")

    # The patient reads it, opened on their own device, and cannot answer it.
    await open_conversation(patient_page, "Dr Hélène Roux")
    received = patient_page.get_by_role("list", name="Messages")
    await expect(received.get_by_text("vaccination contre la grippe")).to_be_visible()
    await expect(patient_page.get_by_label("Votre message")).to_have_count(0)


async def test_practitioners_form_a_practice_and_open_a_care_team_conversation(
    app_server: RunningServer, person
) -> None:
    founder = await app_server.user("practitioner", "Dr Anne Leroy", publish_keys=False)
    colleague = await app_server.user("practitioner", "Dr Youssef Amrani", publish_keys=False)
    founder_page = await person(founder.user_id)
    colleague_page = await person(colleague.user_id)
    await founder_page.get_by_role("link", name="Cabinet et équipe").click()
    await colleague_page.get_by_role("link", name="Cabinet et équipe").click()

    await founder_page.get_by_label("Nom du cabinet").fill("Maison de santé des Lilas")
    await founder_page.get_by_role("button", name="Créer").click()
    practice = founder_page.get_by_role("article", name="Maison de santé des Lilas")
    await practice.get_by_label("Numéro de compte du collègue à inviter").fill(
        str(colleague.user_id)
    )
    await practice.get_by_role("button", name="Inviter").click()
    await expect(practice.get_by_text("Invités, en attente de réponse")).to_be_visible()

    # The invitation reaches the colleague live; they join.
    invitations = colleague_page.get_by_role("region", name="Invitations reçues")
    await expect(invitations).to_contain_text(
        "Dr Anne Leroy vous invite à rejoindre « Maison de santé des Lilas »"
    )
    await invitations.get_by_role("button", name="Rejoindre").click()
    await expect(
        colleague_page.get_by_role("article", name="Maison de santé des Lilas")
    ).to_contain_text("Dr Anne Leroy")
    await expect(practice.get_by_text("Invités, en attente de réponse")).to_have_count(0)

    # A conversation between the two, opened from the Team screen.
    group = founder_page.get_by_role("form", name="Conversation d'équipe")
    await group.get_by_role("checkbox", name=re.compile("^Dr Youssef Amrani")).check()
    await group.get_by_role("button", name="Ouvrir la conversation").click()
    await expect(founder_page).to_have_url(re.compile(r"#/threads/\d+$"))
    await expect(founder_page.get_by_role("heading", name="Dr Youssef Amrani")).to_be_visible()
    await write(founder_page, "On se coordonne pour le suivi de Mme Durand ?")
    await colleague_page.get_by_role("link", name="Messages").click()
    await open_conversation(colleague_page, "Dr Anne Leroy")
    await expect(colleague_page.get_by_text("suivi de Mme Durand")).to_be_visible()


async def test_the_audit_trail_lists_what_happened_and_downloads_as_json(
    app_server: RunningServer, person
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Louis Garnier", patient_name="Emma Petit"
    )
    doctor_page = await person(doctor.user_id)  # keys first: the patient seals for them
    thread = await open_thread(app_server, patient, doctor)
    async with app_server.secure(patient) as secure:
        await secure.setup()
        await secure.send(thread, "Mes résultats d'analyse sont-ils arrivés ?")
    await open_conversation(doctor_page, "Emma Petit")
    await expect(doctor_page.get_by_text("résultats d'analyse")).to_be_visible()
    await write(doctor_page, "Oui, tout est normal.")
    await expect(doctor_page.locator(".message.mine")).to_contain_text("tout est normal")

    await doctor_page.get_by_role("link", name="Journal").click()
    trail_title = doctor_page.get_by_role("heading", name="Journal de la conversation")
    await expect(trail_title).to_be_visible()
    rows = doctor_page.locator("tbody tr")
    await expect(rows.locator("td:nth-child(2)")).to_have_text(
        ["Conversation ouverte", "Message envoyé", "Lu", "Message envoyé"]
    )
    await expect(rows.locator("td:nth-child(3)")).to_have_text(
        ["Emma Petit", "Emma Petit", "Dr Louis Garnier", "Dr Louis Garnier"]
    )
    await expect(rows.first.locator("td").last).to_have_text("Motif : Renouvellement d'ordonnance")
    await screenshot(doctor_page, "practitioner-audit")

    async with doctor_page.expect_download() as downloading:
        await doctor_page.get_by_role("button", name="Télécharger (JSON)").click()
    download = await downloading.value
    assert download.suggested_filename == f"carehub-conversation-{thread}-journal.json"
    path = await download.path()
    assert path is not None
    trail = json.loads(path.read_text())
    assert [entry["action"] for entry in trail] == ["opened", "sent", "read", "sent"]
    assert {entry["thread"] for entry in trail} == {thread}
