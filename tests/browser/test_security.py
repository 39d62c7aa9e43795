"""An account's security in the web app: a session ended from another
browser, a second factor turned on by scanning (here: reading) its secret
and then asked at sign-in, a password changed, and a forgotten password
reset from the link an email carries."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, expect

from protocol.account import EmailParams
from protocol.methods import HistoryParams, ThreadsOpenParams
from protocol.model import ThreadKind
from server.totp import STEP_MS, code_at
from tests.integration.test_mail import mail_server
from tests.support.server import PASSWORD, RunningServer, free_port, start_server
from tests.support.webapp import axe_violations, screenshot, sign_in, submit_sign_in

NEW_PASSWORD = "une phrase de passe neuve"
AWAITING = "Approuvez ce nouvel appareil"  # what a signed-in second device shows first


def _code(secret: str, steps_ahead: int = 0) -> str:
    return code_at(secret, int(time.time() * 1000) // STEP_MS + steps_ahead)


async def _page(browser: Browser, server: RunningServer) -> Page:
    context = await browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    page = await context.new_page()
    await page.goto(server.base_url + "/")
    return page


async def test_a_session_ended_elsewhere_and_a_second_factor_turned_on(
    app_server: RunningServer, browser: Browser
) -> None:
    me = await app_server.user(name="Camille Martin", publish_keys=False)
    username = app_server.usernames[me.user_id]
    desk, phone = await _page(browser, app_server), await _page(browser, app_server)
    await sign_in(desk, username)
    await submit_sign_in(phone, username)
    await expect(phone.get_by_role("heading", name=AWAITING)).to_be_visible()  # a second device

    await desk.get_by_role("link", name="Compte").click()
    sessions = desk.get_by_role("table", name="Où vous êtes connecté")
    await expect(sessions.get_by_role("row")).to_have_count(
        4
    )  # the heading, the test's login, two browsers
    await expect(sessions.get_by_text("cette session")).to_have_count(1)
    await desk.get_by_role("button", name="Terminer toutes les autres sessions").click()
    await expect(desk.get_by_role("status")).to_have_text("2 session(s) terminée(s).")
    await expect(phone.get_by_text("Votre session a pris fin : reconnectez-vous.")).to_be_visible()
    await expect(sessions.get_by_role("row")).to_have_count(2)

    second_factor = desk.get_by_role("region", name="Double authentification")
    await second_factor.get_by_label("Mot de passe actuel").fill(PASSWORD)
    await second_factor.get_by_role("button", name="Activer").click()
    await expect(second_factor.get_by_role("img", name="Code QR du secret")).to_be_visible()
    secret = (await second_factor.locator("code.request").inner_text()).strip()
    await second_factor.get_by_label("Code à six chiffres").fill(_code(secret))
    await second_factor.get_by_role("button", name="Activer la double authentification").click()
    codes = desk.get_by_role("region", name="Vos codes de secours").get_by_role("listitem")
    await expect(codes).to_have_count(10)
    await expect(second_factor.get_by_text("Codes de secours restants : 10.")).to_be_visible()
    assert await axe_violations(desk) == []
    await screenshot(desk, "account-security")

    # At sign-in the app asks for the code; a wrong one is said, the next one logs in.
    await submit_sign_in(phone, username)
    code_field = phone.get_by_label("Code de votre application d'authentification")
    await code_field.fill("000000" if _code(secret, 1) != "000000" else "111111")
    await phone.get_by_role("button", name="Se connecter").click()
    await expect(phone.get_by_role("alert")).to_have_text("Ce code est incorrect ou a déjà servi.")
    await code_field.fill(_code(secret, 1))
    await phone.get_by_role("button", name="Se connecter").click()
    await expect(phone.get_by_role("heading", name=AWAITING)).to_be_visible()
    await desk.reload()
    trail = desk.get_by_role("region", name="Historique du compte")
    entries = trail.get_by_role("listitem")
    await expect(entries.nth(0)).to_contain_text("Code erroné essayé")  # the wrong code, seen
    await expect(entries.nth(1)).to_contain_text("Double authentification activée")


async def test_a_password_changed_in_the_app(app_server: RunningServer, browser: Browser) -> None:
    me = await app_server.user(name="Jules Petit", publish_keys=False)
    page = await _page(browser, app_server)
    await sign_in(page, app_server.usernames[me.user_id])
    await page.get_by_role("link", name="Compte").click()
    form = page.get_by_role("region", name="Mot de passe", exact=True)
    # Each form that asks for the password names the account, hidden, for a
    # password manager to know whose password it is.
    asking = page.locator("form:has(input[type=password])")
    await expect(asking).to_have_count(4)  # password, recovery email, second factor, deletion
    for index in range(4):
        named = asking.nth(index).locator("input[autocomplete=username]")
        await expect(named).to_have_value(app_server.usernames[me.user_id])
    await form.get_by_label("Mot de passe actuel").fill("pas le bon mot de passe")
    await form.get_by_label("Nouveau mot de passe").fill(NEW_PASSWORD)
    await form.get_by_role("button", name="Changer le mot de passe").click()
    await expect(form.get_by_role("alert")).to_have_text("Mot de passe incorrect.")
    await form.get_by_label("Mot de passe actuel").fill(PASSWORD)
    await form.get_by_role("button", name="Changer le mot de passe").click()
    await expect(form.get_by_role("status")).to_have_text("Mot de passe changé.")


async def test_a_forgotten_password_is_reset_from_the_emailed_link(
    browser: Browser, tmp_path: Path
) -> None:
    async with mail_server() as mailbox:
        port = free_port()
        server = start_server(
            f"sqlite+aiosqlite:///{tmp_path / 'carehub.db'}",
            tmp_path,
            port=port,
            smtp_host="127.0.0.1",
            smtp_port=mailbox.port,
            smtp_security="none",
            reminder_poll_seconds=0.1,
            public_url=f"http://127.0.0.1:{port}",
        )
        try:
            await _reset_in_the_browser(browser, server, mailbox)
        finally:
            server.stop()


async def _reset_in_the_browser(browser: Browser, server: RunningServer, mailbox: Any) -> None:
    me = await server.user(publish_keys=False)
    username = server.usernames[me.user_id]
    async with server.client(me) as client:
        await client.call("account.email", EmailParams(PASSWORD, "lea@example.org"))
    page = await _page(browser, server)
    await page.get_by_role("button", name="Mot de passe oublié ?").click()
    await page.get_by_label("Identifiant").fill(username)
    await page.get_by_role("button", name="Envoyer le lien").click()
    await expect(page.get_by_role("status")).to_contain_text("un e-mail vient d'y partir")
    got = await mailbox.next()
    link = re.search(r"(http://\S+/#reset=\S+)", got.text)
    assert link is not None, got.text
    await page.goto(link[1])
    await page.reload()  # a link opens a fresh page
    await page.get_by_label("Nouveau mot de passe").fill(NEW_PASSWORD)
    await page.get_by_label("Le même, une seconde fois").fill(NEW_PASSWORD)
    assert await axe_violations(page) == []
    await page.get_by_role("button", name="Changer le mot de passe").click()
    await expect(page.get_by_role("alert")).to_have_text("Mot de passe changé : connectez-vous.")
    assert "#reset" not in page.url
    await page.get_by_label("Identifiant").fill(username)
    await page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("navigation")).to_be_visible()


async def test_a_patient_deletes_their_account_from_the_app(
    app_server: RunningServer, browser: Browser
) -> None:
    doctor = await app_server.user("practitioner", "Dr Hélène Roux")
    me = await app_server.user(name="Inès Garcia", publish_keys=False)  # the browser is her device
    await app_server.add_patient(doctor, me)
    username = app_server.usernames[me.user_id]
    page = await _page(browser, app_server)
    await sign_in(page, username)
    async with app_server.secure(doctor) as desk:
        opening = ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [me.user_id])
        thread = (await desk.call("threads.open", opening)).id
        await desk.send(thread, "Vos résultats sont normaux.")
    await page.get_by_role("link", name="Compte").click()
    deletion = page.get_by_role("region", name="Supprimer mon compte")
    await deletion.get_by_label("Mot de passe actuel").fill("pas le bon mot de passe")
    await deletion.get_by_label("Je comprends que la suppression est définitive.").check()
    await deletion.get_by_role("button", name="Supprimer définitivement mon compte").click()
    await expect(deletion.get_by_role("alert")).to_contain_text("Mot de passe incorrect")
    await screenshot(page, "account-delete")
    await deletion.get_by_label("Mot de passe actuel").fill(PASSWORD)
    await deletion.get_by_role("button", name="Supprimer définitivement mon compte").click()
    await expect(page.get_by_text("Votre compte a été supprimé.")).to_be_visible()
    await expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    assert await axe_violations(page) == []

    # The practitioner keeps the conversation; the account opens no more.
    async with app_server.client(doctor) as desk:
        history = await desk.call("messages.history", HistoryParams(thread))
        assert [m.sender for m in history.messages if m.sender_device] == [doctor.user_id]
    await submit_sign_in(page, username)
    await expect(page.get_by_role("alert")).to_be_visible()
