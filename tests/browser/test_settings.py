"""A practitioner's settings in the web app: a reply template written with
variables and previewed, then used in a conversation; a vacation rule that
answers the patient automatically; a request reason offered to patients."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import expect

from protocol.practice import PractitionerParams, RequestReason, Rule
from tests.support.server import RunningServer
from tests.support.webapp import (
    axe_violations,
    care_pair,
    open_conversation,
    open_thread,
    screenshot,
    write,
)

BROWSER_ZONE = ZoneInfo("Europe/Paris")  # the browser contexts' time zone (conftest)


def local_input(moment: datetime) -> str:
    """A ``datetime-local`` value, as a person in the browser's zone types it."""
    return moment.astimezone(BROWSER_ZONE).strftime("%Y-%m-%dT%H:%M")


async def test_a_template_written_with_variables_answers_a_patient(
    app_server: RunningServer, person
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Hélène Roux", patient_name="Paul Durand"
    )
    doctor_page = await person(doctor.user_id)
    await doctor_page.get_by_role("link", name="Modèles").click()
    await expect(doctor_page.get_by_text("Demande inappropriée")).to_be_visible()  # built in
    await doctor_page.get_by_role("button", name="Nouveau modèle").click()
    editor = doctor_page.get_by_role("form", name="Nouveau modèle")
    await editor.get_by_label("Nom du modèle").fill("Résultats normaux")
    text = editor.get_by_label("Texte", exact=True)

    # An unknown variable is refused before anything reaches the server.
    await text.fill("Bonjour {prenom}")
    unknown = re.compile(r"Variable inconnue : \{prenom\}")
    await expect(editor.get_by_role("alert")).to_have_text(unknown)
    await editor.get_by_role("button", name="Créer le modèle").click()
    await expect(text).to_be_focused()
    async with app_server.client(doctor) as client:
        assert [t.name for t in (await client.call("templates.list")).templates] == [
            "Demande inappropriée"
        ]

    # Variables are inserted where the cursor is, and the preview fills them in.
    await text.fill("Bonjour ")
    await editor.get_by_role("button", name="Insérer {patient_first_name}").click()
    await text.press("End")
    await text.press_sequentially(", vos résultats sont normaux. ")
    await editor.get_by_role("button", name="Insérer {practitioner_name}").click()
    await expect(text).to_have_value(
        "Bonjour {patient_first_name}, vos résultats sont normaux. {practitioner_name}"
    )
    preview = editor.get_by_role("region", name="Aperçu")
    sample = "Bonjour Camille, vos résultats sont normaux. Dr Hélène Roux"
    await expect(preview).to_contain_text(sample)
    assert await axe_violations(doctor_page) == []
    await screenshot(doctor_page, "practitioner-templates")
    await editor.get_by_role("button", name="Créer le modèle").click()
    await expect(editor).to_have_count(0)
    saved = doctor_page.get_by_role("article").filter(has_text="Résultats normaux")
    await expect(saved).to_contain_text("Mes modèles")
    await expect(saved).to_contain_text("{patient_first_name}")

    # In a conversation, the template is rendered for this patient and sent.
    patient_page = await person(patient.user_id)
    await open_thread(app_server, patient, doctor, "exam_results")
    await open_conversation(patient_page, "Dr Hélène Roux")
    await write(patient_page, "Avez-vous reçu mes résultats ?")
    await doctor_page.get_by_role("link", name="Messages").click()
    await open_conversation(doctor_page, "Paul Durand", first=True)
    await doctor_page.get_by_role("button", name="Modèles et options de réponse").click()
    # A select's name includes its chosen option: "Modèle — Aucun —".
    chooser = doctor_page.get_by_role("combobox", name=re.compile("^Modèle"))
    await chooser.select_option(label="Résultats normaux")
    rendered = "Bonjour Paul, vos résultats sont normaux. Dr Hélène Roux"
    await expect(doctor_page.get_by_label("Réponse", exact=True)).to_have_value(rendered)
    await doctor_page.get_by_role("button", name="Envoyer la réponse").click()
    conversation = patient_page.get_by_role("list", name="Messages")
    await expect(conversation.get_by_text(rendered)).to_be_visible()


async def test_a_vacation_rule_set_in_the_app_answers_the_patient(
    app_server: RunningServer, person
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Marc Petit", patient_name="Léa Bernard"
    )
    await open_thread(app_server, patient, doctor, "exam_results")
    doctor_page = await person(doctor.user_id)
    await doctor_page.get_by_role("link", name="Absences et réponses").click()
    await expect(doctor_page.get_by_text("Aucune règle")).to_be_visible()
    await doctor_page.get_by_role("button", name="Nouvelle règle").click()
    editor = doctor_page.get_by_role("form", name="Nouvelle règle")
    away = "Je suis en congés cette semaine ; je vous réponds à mon retour."
    await editor.get_by_label("Nom de la règle").fill("Congés d'été")
    await editor.get_by_role("radio", name=re.compile("^Réponse automatique")).check()
    await editor.get_by_label("Texte montré aux patients").fill(away)
    now = datetime.now(BROWSER_ZONE).replace(second=0, microsecond=0)
    starts, ends = now - timedelta(hours=1), now + timedelta(days=7)
    await editor.get_by_label("Début", exact=True).fill(local_input(starts))
    await editor.get_by_label("Fin", exact=True).fill(local_input(ends))
    await editor.get_by_label(re.compile("pas un service d'urgence")).check()
    assert await axe_violations(doctor_page) == []
    await editor.get_by_role("button", name="Créer la règle").click()
    listed = doctor_page.get_by_role("listitem").filter(has_text="Congés d'été")
    await expect(listed).to_contain_text(re.compile(r"Du .+ au .+"))
    await expect(listed).to_contain_text("Rappelle le numéro d'urgence")
    await doctor_page.get_by_role("button", name="Modifier Congés d'été").click()
    reopened = doctor_page.get_by_role("form", name="Modifier « Congés d'été »")
    await expect(reopened.get_by_label("Début", exact=True)).to_have_value(local_input(starts))
    await screenshot(doctor_page, "practitioner-rules")
    await reopened.get_by_role("button", name="Annuler").click()
    async with app_server.client(doctor) as client:
        (rule,) = (await client.call("rules.list")).rules
    # The local times the practitioner typed, as instants.
    assert (rule.starts, rule.ends) == (
        int(starts.timestamp() * 1000),
        int(ends.timestamp() * 1000),
    )

    patient_page = await person(patient.user_id)
    await open_conversation(patient_page, "Dr Marc Petit")
    await write(patient_page, "Pouvez-vous m'envoyer mon compte rendu ?")
    conversation = patient_page.get_by_role("list", name="Messages")
    automatic = conversation.get_by_role("listitem").filter(has_text="Réponse automatique")
    await expect(automatic).to_contain_text(away)

    # A rule added elsewhere shows at once (rules.updated), and the order is the person's.
    async with app_server.client(doctor) as client:
        await client.call("rules.add", Rule(position=5, name="Soirs", text="Je réponds le matin."))
    rules = doctor_page.get_by_role("list").filter(has_text="Congés d'été").get_by_role("heading")
    await expect(rules).to_have_text(["Congés d'été", "Soirs"])
    await doctor_page.get_by_role("button", name="Monter Soirs").click()
    await expect(rules).to_have_text(["Soirs", "Congés d'été"])
    async with app_server.client(doctor) as client:
        order = [rule.name for rule in (await client.call("rules.list")).rules]
    assert order == ["Soirs", "Congés d'été"]


async def test_a_request_reason_added_in_the_app_is_offered_to_patients(
    app_server: RunningServer, person
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Anne Morel", patient_name="Hugo Lefèvre"
    )
    doctor_page = await person(doctor.user_id)
    await doctor_page.get_by_role("link", name="Réglages de la messagerie").click()
    await expect(doctor_page.get_by_label("Libellé").first).to_have_value(
        "Renouvellement d'ordonnance"
    )
    await doctor_page.get_by_role("button", name="Retirer le motif 3").click()  # admin document
    await doctor_page.get_by_role("button", name="Ajouter un motif").click()
    added = doctor_page.get_by_role("group", name="Motif 4")
    await added.get_by_label("Libellé").fill("Certificat de sport")
    await added.get_by_label("Délai de réponse annoncé (heures)").fill("48")
    await doctor_page.get_by_label("Messages sur 24 heures").fill("10")
    assert await axe_violations(doctor_page) == []
    await doctor_page.get_by_role("button", name="Enregistrer les réglages").click()
    await expect(doctor_page.get_by_role("status").filter(has_text="Enregistré.")).to_be_visible()
    await screenshot(doctor_page, "practitioner-inbox-settings")

    async with app_server.client(patient) as client:
        offered = await client.call("practitioners.get", PractitionerParams(doctor.user_id))
    assert [reason.code for reason in offered.reasons] == [
        "prescription_renewal",
        "exam_results",
        "after_visit",
        "certificat_de_sport",
    ]
    assert offered.reasons[-1] == RequestReason("certificat_de_sport", "Certificat de sport", 48)
    async with app_server.client(doctor) as client:
        assert (await client.call("inbox.get")).max_daily_messages == 10
