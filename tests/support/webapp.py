"""What the browser tests (``tests/browser``) share: people and threads made
through the API, what a person does in the web app, and what the tests check
in it. Plain functions; the fixtures that open browsers are in
``tests/browser/conftest.py``."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from clients import Credentials
from protocol.methods import ThreadsOpenParams
from protocol.model import ThreadKind
from tests.support.server import PASSWORD, RunningServer

__all__ = [
    "SCREENSHOTS",
    "Person",
    "axe_violations",
    "care_pair",
    "open_conversation",
    "open_thread",
    "screenshot",
    "sign_in",
    "submit_sign_in",
    "write",
]

WEB = Path(__file__).resolve().parents[2] / "clients" / "web"
SCREENSHOTS = WEB / "screenshots"  # kept out of git; docs/web.md lists them
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

Person = Callable[..., Awaitable[Page]]
"""The ``person`` fixture: opens the app signed in as a user id (a page of its own)."""


async def care_pair(
    server: RunningServer, *, doctor_name: str, patient_name: str
) -> tuple[Credentials, Credentials]:
    """A verified practitioner and their patient, neither with a device yet:
    the browser will be each one's first."""
    doctor = await server.user("practitioner", doctor_name, publish_keys=False)
    patient = await server.user("patient", patient_name, publish_keys=False)
    await server.add_patient(doctor, patient)
    return doctor, patient


async def open_thread(
    server: RunningServer,
    patient: Credentials,
    doctor: Credentials,
    reason: str = "prescription_renewal",
) -> int:
    """The patient opens a request to the practitioner through the API (not the
    app); its thread id."""
    async with server.client(patient) as client:
        params = ThreadsOpenParams(ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], reason)
        return (await client.call("threads.open", params)).id


async def submit_sign_in(page: Page, username: str) -> None:
    """Fill in the sign-in screen (French or English) and submit it."""
    await page.get_by_label(re.compile("Identifiant|Username")).fill(username)
    await page.get_by_label(re.compile("Mot de passe|Password")).fill(PASSWORD)
    await page.get_by_role("button", name=re.compile("^(Se connecter|Log in)$")).click()


async def sign_in(page: Page, username: str) -> None:
    """Sign in on a device the account can use: the app opens (its navigation)."""
    await submit_sign_in(page, username)
    await expect(page.get_by_role("navigation")).to_be_visible()


async def open_conversation(page: Page, name: str, *, first: bool = False) -> None:
    """Click the link to the conversation whose name contains ``name`` (a
    regular expression). Only one link may match unless ``first``."""
    link = page.get_by_role("link", name=re.compile(name))
    await (link.first if first else link).click()


async def write(page: Page, text: str) -> None:
    """Send ``text`` from the open conversation's composer."""
    await page.get_by_label("Votre message").fill(text)
    await page.get_by_role("button", name="Envoyer", exact=True).click()


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of WCAG 2.0, 2.1 and 2.2 A and AA in the whole
    page as it is now: each rule's id and the elements it failed on."""
    # Evaluated through the DevTools protocol rather than added as a script
    # tag, which the app's Content-Security-Policy would block.
    await page.evaluate(AXE.read_text())
    found = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_A_AA
    )
    return [
        {"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in found["violations"]
    ]


async def screenshot(page: Page, name: str) -> None:
    """The whole page, as ``clients/web/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
