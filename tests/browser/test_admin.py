"""The admin's screen in the web app: accounts found a page at a time, a
practitioner verified against the imported RPPS directory (after a number
that names someone else is refused), and a patient deactivated, unable to
log in, then reactivated."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from clients import CallError, login, register
from protocol.practice import ProfessionalsParams
from tests.integration.test_directory import carehub, extract
from tests.support.server import PASSWORD, RunningServer
from tests.support.webapp import Person, axe_violations, screenshot
from tests.unit.test_rpps import line

MARCHAL = line("10009990001", "MARCHAL", "Solène", "Médecin", "Médecine générale")
NGUYEN = line("10009990002", "NGUYEN", "Bao", "Pharmacien")
PAGE_SIZE = 25  # admin.tsx asks for accounts 25 at a time


async def _search(page: Page, text: str, role: str = "Tous les rôles") -> Locator:
    """Search the accounts; the table of what was found."""
    search = page.get_by_role("search")
    await search.get_by_label("Identifiant ou nom").fill(text)
    await search.get_by_label("Rôle").select_option(label=role)
    await search.get_by_role("button", name="Rechercher").click()
    return page.get_by_role("table", name="Comptes")


async def _manage(page: Page, name: str) -> Locator:
    """Open an account's panel from its row."""
    await page.get_by_role("button", name=f"Gérer {name}").click()
    return page.get_by_role("region", name=f"{name} · compte n°")


async def test_accounts_come_a_page_at_a_time(app_server: RunningServer, person: Person) -> None:
    admin = await app_server.user("admin", "Admin du service", publish_keys=False)
    tag = uuid.uuid4().hex[:8]
    await asyncio.gather(
        *(
            register(app_server.base_url, f"roussel-{tag}-{n:02}", PASSWORD, "Camille Roussel")
            for n in range(PAGE_SIZE + 1)
        )
    )
    page = await person(admin.user_id)
    await page.get_by_role("link", name="Administration").click()
    accounts = await _search(page, tag)
    await expect(accounts.get_by_role("row")).to_have_count(PAGE_SIZE + 1)  # with the headings
    more = page.get_by_role("button", name="Afficher plus de comptes")
    await more.click()
    await expect(accounts.get_by_role("row")).to_have_count(PAGE_SIZE + 2)
    await expect(more).to_have_count(0)
    usernames = await accounts.locator("td:nth-child(2)").all_inner_texts()
    assert sorted(usernames) == [f"roussel-{tag}-{n:02}" for n in range(PAGE_SIZE + 1)]
    await _search(page, tag, "Praticien")
    await expect(page.get_by_text("Aucun compte ne correspond à cette recherche.")).to_be_visible()


async def test_an_admin_verifies_a_practitioner_and_deactivates_a_patient(
    app_server: RunningServer, person: Person, tmp_path: Path
) -> None:
    status, _ = await carehub(
        app_server, "admin", "import-rpps", extract(tmp_path / "rpps.txt", MARCHAL, NGUYEN)
    )
    assert status == 0
    doctor = await app_server.user("practitioner", "Dr Solène Marchal", verified=False)
    patient = await app_server.user("patient", "Yanis Ferrand", publish_keys=False)
    # Not app_server.admin(): the browser must be this account's first device.
    admin = await app_server.user("admin", "Admin du service", publish_keys=False)
    page = await person(admin.user_id)
    await page.get_by_role("link", name="Administration").click()

    # The practitioner: a number the directory gives someone else, then theirs.
    accounts = await _search(page, "Solène Marchal", "Praticien")
    await expect(accounts.get_by_role("row")).to_have_count(2)
    row = accounts.get_by_role("row").nth(1)
    await expect(row.get_by_role("cell")).to_have_text(
        [
            "Dr Solène Marchal",
            re.compile("^practitioner-"),
            "Praticien",
            "Non",
            "Actif",
            "Gérer Dr Solène Marchal",
        ]
    )
    panel = await _manage(page, "Dr Solène Marchal")
    await panel.get_by_role("button", name="Vérifier", exact=True).click()
    await panel.get_by_label("Numéro RPPS ou nom").fill("1000999")
    await panel.get_by_role("button", name="Chercher dans l'annuaire").click()
    found = panel.get_by_role("list", name="Dans l'annuaire").get_by_role("listitem")
    await expect(found).to_have_count(2)
    await expect(found.first).to_contain_text("Médecin, Médecine générale · RPPS 10009990001")
    assert await axe_violations(page) == []
    await screenshot(page, "admin-accounts")
    await panel.get_by_role("button", name="Vérifier avec le n° 10009990002").click()
    await expect(panel.get_by_role("alert")).to_have_text(
        "L'annuaire donne ce numéro à Bao NGUYEN, pas au titulaire de ce compte."
    )
    await panel.get_by_role("button", name="Vérifier avec le n° 10009990001").click()
    await expect(panel.get_by_role("status")).to_have_text(
        "Dr Solène Marchal est vérifié(e) avec le n° RPPS 10009990001."
    )
    await _search(page, "Solène Marchal", "Praticien")  # as the server now says
    await expect(accounts.get_by_role("row")).to_have_count(2)  # a new list: no panel open
    await expect(row.get_by_role("cell").nth(3)).to_have_text("Oui")
    async with app_server.client(await app_server.admin()) as desk:
        listed = await desk.call("admin.professionals", ProfessionalsParams("1000999"))
    assert [(p.rpps, p.account) for p in listed.professionals] == [
        ("10009990001", doctor.user_id),
        ("10009990002", None),
    ]

    # The patient: deactivated (asked first), then reactivated.
    username = app_server.usernames[patient.user_id]
    await _search(page, username)
    panel = await _manage(page, "Yanis Ferrand")
    await panel.get_by_role("button", name="Retirer la double authentification").click()
    await panel.get_by_role("button", name="Oui, retirer").click()
    await expect(panel.get_by_role("alert")).to_have_text(
        "Yanis Ferrand n'a pas de double authentification : rien à retirer."
    )
    await panel.get_by_role("button", name="Annuler").click()
    await panel.get_by_role("button", name="Désactiver le compte").click()
    await expect(panel.get_by_role("group")).to_contain_text(
        "Désactiver le compte de Yanis Ferrand ?"
    )
    await panel.get_by_role("button", name="Oui, désactiver").click()
    await expect(panel.get_by_role("status")).to_have_text(
        "Le compte de Yanis Ferrand est désactivé."
    )
    await expect(row.get_by_role("cell").nth(4)).to_have_text("Désactivé")
    with pytest.raises(CallError) as refused:
        await login(app_server.base_url, username, PASSWORD)
    assert (refused.value.code, refused.value.details["reason"]) == ("forbidden", "deactivated")
    assert await axe_violations(page) == []

    await panel.get_by_role("button", name="Réactiver le compte").click()
    await panel.get_by_role("button", name="Oui, réactiver").click()
    await expect(panel.get_by_role("status")).to_have_text(
        "Le compte de Yanis Ferrand est réactivé."
    )
    await login(app_server.base_url, username, PASSWORD)
