"""The app as a whole: served by carehub with its security headers, installable
and opening offline, in English on request, usable at phone width, and with
no axe-core violation of WCAG A or AA on the main screens."""

from __future__ import annotations

import json
import re
import uuid

import httpx
from playwright.async_api import Browser, Page, expect

from tests.support.server import PASSWORD, RunningServer
from tests.support.webapp import (
    axe_violations,
    care_pair,
    open_conversation,
    open_thread,
    screenshot,
    sign_in,
)


def test_the_app_is_served_beside_the_api_with_a_strict_policy(app_server: RunningServer) -> None:
    with httpx.Client(base_url=app_server.base_url) as http:
        page = http.get("/")
        script = http.get("/app.js", headers={"accept-encoding": "gzip"})
        worker = http.get("/sw.js")
        health = http.get("/healthz")
        missing = http.get("/no-such-file.js")
    assert page.status_code == 200 and '<div id="app">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert (
        page.headers["cache-control"] == "no-cache"
        and worker.headers["cache-control"] == "no-cache"
    )
    assert script.headers["content-encoding"] == "gzip"
    assert "carehub-shell-" in worker.text and "__VERSION__" not in worker.text
    assert health.json()["status"] == "ok" and "content-security-policy" not in health.headers
    assert missing.status_code == 404


async def test_installable_and_the_shell_opens_offline(
    browser: Browser, app_server: RunningServer
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(app_server.base_url + "/")
    manifest = json.loads(
        await (await page.request.get(app_server.base_url + "/manifest.webmanifest")).body()
    )
    assert manifest["display"] == "standalone" and manifest["lang"] == "fr" and manifest["icons"]
    await page.evaluate("navigator.serviceWorker.ready")
    await page.reload()  # now under the worker's control
    assert await page.evaluate("!!navigator.serviceWorker.controller")
    await context.set_offline(True)
    await page.reload()
    await expect(page.get_by_role("heading", name="Connexion à carehub")).to_be_visible()
    await context.close()


async def test_english_at_phone_width(app_server: RunningServer, person) -> None:
    _, patient = await care_pair(app_server, doctor_name="Dr Anne Leroy", patient_name="Léa Petit")
    page = await person(patient.user_id, width=390)
    await page.get_by_role("button", name="English").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("link", name="New request")).to_be_visible()
    await expect(page.get_by_role("heading", name="Conversations")).to_be_visible()
    await screenshot(page, "patient-phone-english")
    await page.get_by_role("button", name="Français").click()
    await expect(page.get_by_role("link", name="Nouvelle demande")).to_be_visible()


async def test_no_accessibility_violations_on_the_main_screens(
    browser: Browser, app_server: RunningServer
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Marc Roux", patient_name="Inès Garnier"
    )
    screens = {
        patient.user_id: ["", "new", "appointments", "relatives", "devices"],
        doctor.user_id: [
            "",
            "agenda",
            "patients",
            "templates",
            "rules",
            "inbox",
            "team",
            "devices",
        ],
    }
    found: dict[str, list[dict]] = {}
    for user_id, routes in screens.items():
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(app_server.base_url + "/")
        if user_id == patient.user_id:
            found["sign-in"] = await axe_violations(page)
        await sign_in(page, app_server.usernames[user_id])
        for route in routes:
            await page.goto(f"{app_server.base_url}/#/{route}")
            await expect(page.get_by_role("heading", level=1).first).to_be_visible()
            await expect(page.get_by_text(re.compile("^Chargement"))).to_have_count(0)
            found[f"{user_id}#/{route}"] = await axe_violations(page)
        await context.close()
    assert {screen: v for screen, v in found.items() if v} == {}


async def tab_to(page: Page, name: str, *, limit: int = 60) -> None:
    """Press Tab until the focused control's label or text is ``name``."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(
            "(() => { const e = document.activeElement; if (!e || e === document.body) return '';"
            " return e.getAttribute('aria-label') || e.labels?.[0]?.innerText"
            " || e.innerText || ''; })()"
        )
        if name in focused:
            return
    raise AssertionError(f"{name!r} cannot be reached with Tab")


async def test_a_patient_signs_in_and_writes_with_the_keyboard_alone(
    browser: Browser, app_server: RunningServer, person
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Paul Henry", patient_name="Chloé Martin"
    )
    doctor_page = await person(doctor.user_id)  # the doctor's first device, keys published
    await open_thread(app_server, patient, doctor, "after_visit")
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(app_server.base_url + "/")
    await tab_to(page, "Identifiant")
    await page.keyboard.type(app_server.usernames[patient.user_id])
    await tab_to(page, "Mot de passe")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("navigation")).to_be_visible()
    await tab_to(page, "Dr Paul Henry")
    await page.keyboard.press("Enter")
    await tab_to(page, "Votre message")
    await page.keyboard.type("Merci pour la consultation d'hier.")
    await page.keyboard.press("Enter")
    conversation = page.get_by_role("list", name="Messages")
    await expect(conversation.get_by_text("Merci pour la consultation d'hier.")).to_be_visible()
    await open_conversation(doctor_page, "Chloé Martin")
    doctor_view = doctor_page.get_by_role("list", name="Messages")
    await expect(doctor_view.get_by_text("Merci pour la consultation d'hier.")).to_be_visible()
    await context.close()


async def test_a_newcomer_creates_an_account_and_a_taken_username_is_refused(
    browser: Browser, app_server: RunningServer
) -> None:
    username = f"nouveau-{uuid.uuid4().hex[:8]}"
    context = await browser.new_context()
    page = await context.new_page()

    await page.goto(app_server.base_url + "/")
    await page.get_by_role("button", name="Créer un compte").click()
    identifier = page.get_by_label("Identifiant")
    for refused in ("nora vidal", "nora\\vidal", "nora/vidal"):  # outside the server's alphabet
        await identifier.fill(refused)
        assert await identifier.evaluate("input => input.validity.patternMismatch"), refused
    await identifier.fill(username)
    await page.get_by_label("Nom affiché").fill("Nora Vidal")
    await page.get_by_label("Mot de passe").fill("une phrase de passe longue")
    await page.get_by_role("button", name="Créer mon compte").click()
    await expect(page.get_by_role("navigation")).to_be_visible()  # logged in, first device
    await expect(page.get_by_text("Aucune conversation pour l'instant.")).to_be_visible()
    await expect(page.locator(".who")).to_have_text("Nora Vidal")
    await page.get_by_role("button", name="Se déconnecter").click()

    await page.get_by_role("button", name="Créer un compte").click()
    await page.get_by_label("Identifiant").fill(username)
    await page.get_by_label("Nom affiché").fill("Quelqu'un d'autre")
    await page.get_by_label("Mot de passe").fill("une autre phrase longue")
    await page.get_by_role("button", name="Créer mon compte").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Cet identifiant est déjà pris : choisissez-en un autre."
    )
    await page.get_by_role("button", name="J'ai déjà un compte").click()
    await identifier.fill("Jean Dupont")  # signing in takes any (`carehub create-user`)
    assert not await identifier.evaluate("input => input.validity.patternMismatch")
    await page.get_by_label("Identifiant").fill(username)
    await page.get_by_label("Mot de passe").fill("pas le bon mot de passe")
    await page.get_by_role("button", name="Se connecter").click()
    await expect(page.get_by_role("alert")).to_have_text("Identifiant ou mot de passe incorrect.")
    await context.close()
