"""Devices and trust in the browser: a second browser waits for approval and
is approved from the first (after saying which device it is), a device is
erased from a shared computer, safety numbers agree on both sides (and with
the Python SDK), and a practitioner's new identity key stops the patient until
they accept it."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from playwright.async_api import Browser, Page, expect

from clients import Credentials, login
from clients.e2e import Keystore, safety_number
from clients.e2e.devices import entry_for
from protocol.e2e import decode_device_list
from protocol.methods import KeysFetchParams, KeysPublishParams
from tests.browser.conftest import TIMEOUT_MS
from tests.support.server import PASSWORD, RunningServer
from tests.support.webapp import (
    care_pair,
    open_conversation,
    open_thread,
    screenshot,
    submit_sign_in,
    write,
)

YEAR_MS = 365 * 24 * 3600 * 1000
APPROVAL_TITLE = "Approuvez ce nouvel appareil"
CODE_LABEL = "Code affiché par le nouvel appareil"
ONLY_KEY_WARNING = "Cet appareil est le seul à détenir la clé de sécurité"

# The names of the keyrings this browser keeps ("keyring:<user>:<device>"),
# read without creating the app's database when it is not there.
SAVED_KEYRINGS = """async () => {
  const names = (await indexedDB.databases()).map((db) => db.name);
  if (!names.includes("carehub-e2e")) return [];
  const db = await new Promise((resolve, reject) => {
    const opening = indexedDB.open("carehub-e2e");
    opening.onsuccess = () => resolve(opening.result);
    opening.onerror = () => reject(opening.error);
  });
  try {
    const request = db.transaction("keyrings").objectStore("keyrings").getAllKeys();
    return await new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  } finally {
    db.close();
  }
}"""


@pytest.fixture
async def new_browser(
    browser: Browser, app_server: RunningServer
) -> AsyncIterator[Callable[[int], Awaitable[Page]]]:
    """Another browser of an existing user: empty storage, so new keys; it
    stops at the approval screen instead of the app."""
    contexts = []

    async def open_as(user_id: int) -> Page:
        context = await browser.new_context(
            viewport={"width": 1000, "height": 860}, locale="fr-FR", timezone_id="Europe/Paris"
        )
        await context.grant_permissions(
            ["clipboard-read", "clipboard-write"], origin=app_server.base_url
        )
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(app_server.base_url + "/")
        await submit_sign_in(page, app_server.usernames[user_id])
        await expect(page.get_by_role("heading", name=APPROVAL_TITLE)).to_be_visible()
        return page

    yield open_as
    for context in contexts:
        await context.close()


async def saved_keyrings(page: Page) -> list[str]:
    return await page.evaluate(SAVED_KEYRINGS)


async def open_devices(page: Page) -> None:
    await page.get_by_role("navigation").get_by_role("link", name="Appareils").click()


async def shown_safety_number(page: Page, name: str) -> str:
    """The 60 digits the Devices screen shows for the person called `name`."""
    await open_devices(page)
    shown = page.get_by_role("listitem").filter(has_text=name).locator(".safety")
    await expect(shown).to_have_text(re.compile(r"^(\s*\d{5}){12}\s*$"))
    return re.sub(r"\s", "", await shown.inner_text())


async def published_identity(server: RunningServer, reader: Credentials, user: int) -> bytes:
    """`user`'s identity key as their published list names it."""
    async with server.client(reader) as client:
        (published,) = (await client.call("keys.fetch", KeysFetchParams([user]))).lists
    return bytes(decode_device_list(published.list)[1].identity_pk)


async def reinstall(server: RunningServer, user: Credentials) -> Credentials:
    """`user` lost their devices and installs carehub anew: a new device makes
    a new identity key and publishes a list with only itself, one version up
    (what the server allows: docs/e2e.md, "Identity recovery")."""
    phone = await login(
        server.base_url, server.usernames[user.user_id], PASSWORD, device_name="nouveau"
    )
    keys = Keystore.create(phone.user_id, phone.device_id, with_identity=True)
    server.keys[phone.device_id] = keys
    assert keys.identity is not None
    async with server.client(phone) as client:
        (published,) = (await client.call("keys.fetch", KeysFetchParams([user.user_id]))).lists
        version = decode_device_list(published.list)[1].version
        now = int(time.time() * 1000)
        entry = entry_for(keys.device.request(user.user_id), user.user_id, now + YEAR_MS)
        signed = keys.identity.sign_list(user.user_id, version + 1, now, [entry])
        await client.call("keys.publish", KeysPublishParams(signed))
    return phone


async def test_a_second_browser_is_approved_from_the_first_and_reads_what_follows(
    app_server: RunningServer, person, new_browser
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Hélène Roux", patient_name="Lucie Bernard"
    )
    await open_thread(app_server, patient, doctor)
    first = await person(patient.user_id)
    doctor_page = await person(doctor.user_id)

    second = await new_browser(patient.user_id)
    await expect(
        second.get_by_text("approuvez ce nouvel appareil depuis un appareil déjà connecté")
    ).to_be_visible()
    await expect(second.locator(".qr svg")).to_be_visible()
    await expect(second.get_by_role("navigation")).to_have_count(0)
    code = (await second.locator("code.request").inner_text()).strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{80,}", code)
    await second.get_by_role("button", name="Copier le code").click()
    await expect(second.get_by_role("status").filter(has_text="Code copié.")).to_be_visible()
    assert await second.evaluate("navigator.clipboard.readText()") == code
    await screenshot(second, "device-approval-request")
    await second.evaluate("window.notReloaded = true")

    (second_keyring,) = await saved_keyrings(second)
    second_device = second_keyring.rsplit(":", 1)[1]

    # The first browser holds the identity key: it reads the code and says
    # which device it names before approving it.
    await open_devices(first)
    question = first.get_by_role("group", name=f"Approuver l'appareil n° {second_device} ?")
    await first.get_by_label(CODE_LABEL).fill(code)
    await first.get_by_role("button", name="Approuver cet appareil").click()
    await expect(question).to_be_visible()
    await question.get_by_role("button", name="Annuler").click()
    await expect(question).to_have_count(0)
    await expect(first.get_by_label(CODE_LABEL)).to_have_value("")
    devices = first.get_by_role("table", name="Vos appareils").locator("tbody tr")
    await expect(devices).to_have_count(1)  # nothing approved

    await first.get_by_label(CODE_LABEL).fill(code)
    await first.get_by_role("button", name="Approuver cet appareil").click()
    await question.get_by_role("button", name="Approuver", exact=True).click()
    await expect(first.get_by_role("status").filter(has_text="Appareil approuvé")).to_be_visible()
    await expect(question).to_have_count(0)
    await expect(devices).to_have_count(2)
    await expect(devices.filter(has_text="cet appareil")).to_have_count(1)
    await expect(
        devices.get_by_role("button", name=re.compile("^Retirer l'appareil"))
    ).to_have_count(1)

    # The second browser opens the app by itself.
    await expect(second.get_by_role("navigation")).to_be_visible()
    await expect(second.get_by_role("heading", name=APPROVAL_TITLE)).to_have_count(0)
    assert await second.evaluate("window.notReloaded === true")
    await open_devices(second)
    await expect(
        second.get_by_text("Seul l'appareil qui détient la clé de sécurité")
    ).to_be_visible()
    await expect(second.get_by_label(CODE_LABEL)).to_have_count(0)
    # Erasing the second browser leaves the key with the first: no warning here.
    shared = second.get_by_role("region", name="Ordinateur partagé ?")
    await expect(shared.get_by_text("qui devra être approuvé")).to_be_visible()
    await expect(shared.get_by_text(ONLY_KEY_WARNING)).to_have_count(0)
    await expect(
        first.get_by_role("region", name="Ordinateur partagé ?").get_by_text(ONLY_KEY_WARNING)
    ).to_be_visible()
    await screenshot(first, "devices")

    # The practitioner's next message is sealed for both of the patient's browsers.
    await open_conversation(doctor_page, "Lucie Bernard", first=True)
    await write(doctor_page, "Votre ordonnance est prête à l'accueil.")
    for page in (first, second):
        await page.get_by_role("navigation").get_by_role("link", name="Messages").click()
        await open_conversation(page, "Dr Hélène Roux", first=True)
        await expect(
            page.get_by_role("list", name="Messages").get_by_text("Votre ordonnance est prête")
        ).to_be_visible()


async def test_a_patient_erases_this_device_from_a_shared_computer(
    app_server: RunningServer, person
) -> None:
    """Logging in again in the same browser makes a new device, which waits
    for an approval: the erased one's keys are gone from IndexedDB."""
    patient = await app_server.user("patient", "Camille Girard", publish_keys=False)
    page = await person(patient.user_id)
    (erased,) = await saved_keyrings(page)

    await open_devices(page)
    shared = page.get_by_role("region", name="Ordinateur partagé ?")
    await expect(shared.get_by_text("« Se déconnecter » garde les clés")).to_be_visible()
    # Its only device holds the account's identity key: erasing it means a new key.
    await expect(shared.get_by_text(ONLY_KEY_WARNING)).to_be_visible()
    await shared.get_by_role("button", name="Se déconnecter et effacer cet appareil").click()
    await shared.get_by_role("button", name="Oui, effacer cet appareil").click()

    await expect(page.get_by_role("button", name="Se connecter", exact=True)).to_be_visible()
    await expect(page.get_by_role("navigation")).to_have_count(0)
    assert await saved_keyrings(page) == []

    await submit_sign_in(page, app_server.usernames[patient.user_id])
    await expect(page.get_by_role("heading", name=APPROVAL_TITLE)).to_be_visible()
    assert erased not in await saved_keyrings(page)


async def test_both_sides_show_the_same_safety_number(app_server: RunningServer, person) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Jules Petit", patient_name="Anna Leroy"
    )
    await open_thread(app_server, patient, doctor)
    doctor_page = await person(doctor.user_id)
    patient_page = await person(patient.user_id)

    seen_by_patient = await shown_safety_number(patient_page, "Dr Jules Petit")
    seen_by_doctor = await shown_safety_number(doctor_page, "Anna Leroy")
    assert seen_by_patient == seen_by_doctor
    await expect(patient_page.get_by_text("en personne ou par téléphone")).to_be_visible()

    # The Python SDK gets the same 60 digits from the two published identity keys.
    doctor_key = await published_identity(app_server, patient, doctor.user_id)
    patient_key = await published_identity(app_server, patient, patient.user_id)
    assert seen_by_patient == safety_number(
        patient.user_id, patient_key, doctor.user_id, doctor_key
    )


async def test_a_new_identity_key_stops_the_patient_until_they_accept_it(
    app_server: RunningServer, person
) -> None:
    doctor = await app_server.user("practitioner", "Dr Marc Lefèvre")  # his first device: the SDK's
    patient = await app_server.user("patient", "Inès Moreau", publish_keys=False)
    await app_server.add_patient(doctor, patient)
    thread = await open_thread(app_server, patient, doctor)
    page = await person(patient.user_id)
    async with app_server.secure(doctor) as desk:
        await desk.send(thread, "Bonjour, vos résultats sont arrivés.")
    await open_conversation(page, "Dr Marc Lefèvre", first=True)
    messages = page.get_by_role("list", name="Messages")
    await expect(
        messages.get_by_text("vos résultats sont arrivés")
    ).to_be_visible()  # his key is now pinned

    phone = await reinstall(app_server, doctor)
    dialog = page.get_by_role("alertdialog", name="La clé de sécurité du Dr Marc Lefèvre a changé")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_text("change de téléphone")).to_be_visible()
    async with app_server.secure(phone) as new_phone:
        await new_phone.refresh([doctor.user_id, patient.user_id])
        expected = new_phone.safety_number(patient.user_id)
        shown = re.sub(r"\s", "", await dialog.locator(".safety").inner_text())
        assert shown == expected
        await screenshot(page, "identity-changed")

        # "Later" closes it for now; it comes back on the next screen.
        await dialog.get_by_role("button", name="Plus tard").click()
        await expect(dialog).to_have_count(0)
        await page.get_by_role("navigation").get_by_role("link", name="Appareils").click()
        await expect(dialog).to_be_visible()
        await dialog.get_by_role("button", name="J'ai vérifié, continuer").click()
        await expect(dialog).to_have_count(0)
        number = page.get_by_role("listitem").filter(has_text="Dr Marc Lefèvre").locator(".safety")
        await expect(number).to_have_text(re.compile(r"^(\s*\d{5}){12}\s*$"))
        assert re.sub(r"\s", "", await number.inner_text()) == expected

        # The conversation goes on with his new device, both ways.
        await page.get_by_role("navigation").get_by_role("link", name="Messages").click()
        await open_conversation(page, "Dr Marc Lefèvre", first=True)
        await write(page, "Merci, je passerai demain.")
        arrived = await new_phone.next_event("message.new")
        assert (await new_phone.read(arrived.data)).body.text == "Merci, je passerai demain."
        await new_phone.send(thread, "Très bien, à demain.")
        await expect(messages.get_by_text("Très bien, à demain.")).to_be_visible()


async def test_a_patient_who_lost_every_device_starts_over_with_a_new_key(
    app_server: RunningServer, person, new_browser
) -> None:
    """The only device that held the identity key is gone: a new browser
    starts over with a new key, the practitioner is told the key changed,
    and once they accept it the conversation goes on."""
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Sophie Brun", patient_name="Hugo Lambert"
    )
    await open_thread(app_server, patient, doctor)
    lost = await person(patient.user_id)  # the device that will be lost
    doctor_page = await person(doctor.user_id)
    await open_conversation(lost, "Dr Sophie Brun")
    await write(lost, "Bonjour, voici ma question.")
    await open_conversation(doctor_page, "Hugo Lambert")
    doctor_view = doctor_page.get_by_role("list", name="Messages")
    await expect(doctor_view.get_by_text("voici ma question")).to_be_visible()  # key pinned
    await lost.context.close()

    fresh = await new_browser(patient.user_id)
    section = fresh.get_by_role("region", name="Plus aucun autre appareil ?")
    await section.get_by_role("button", name="Recommencer avec une nouvelle clé").click()
    await section.get_by_role("button", name="Oui, nouvelle clé").click()
    await expect(fresh.get_by_role("navigation")).to_be_visible()  # its own only device now

    dialog = doctor_page.get_by_role(
        "alertdialog", name="La clé de sécurité d'Hugo Lambert a changé"
    )
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="J'ai vérifié, continuer").click()
    await write(doctor_page, "Bien reçu, je vous réponds demain.")
    await open_conversation(fresh, "Dr Sophie Brun")
    fresh_view = fresh.get_by_role("list", name="Messages")
    await expect(fresh_view.get_by_text("Bien reçu, je vous réponds demain.")).to_be_visible()
    # What was sealed for the lost device stays unreadable here, and says so.
    unreadable = fresh_view.get_by_text("ne peut pas être ouvert sur cet appareil")
    await expect(unreadable).to_have_count(1)
