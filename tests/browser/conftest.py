"""The web app in Debian's Chromium, headless, driven by Playwright against a
real server (its own SQLite database, on a free loopback port) that serves the
built app at ``/``. Each person is a browser context of their own: separate
storage, so separate keys, as two people on two machines.

Screenshots of the main screens go to ``clients/web/screenshots/`` (kept out
of git; ``docs/web.md`` lists them). What the tests do and check in the app
(signing in, writing, axe-core's accessibility checks, screenshots...) is in
``tests/support/webapp.py``."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from server.webapp import BUILT_APP
from tests.conftest import unavailable
from tests.support.server import RunningServer, start_server
from tests.support.webapp import sign_in

CHROMIUM_NAMES = ("chromium", "chromium-browser")
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)


def chromium_binary() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    unavailable("Debian's chromium is not installed (tests/run installs it)")
    raise AssertionError  # unreachable: unavailable() fails or skips


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server for the browser tests; each test makes its own users."""
    with serving_the_app(tmp_path_factory.mktemp("browser")) as running:
        yield running


@contextmanager
def serving_the_app(workdir: Path, **settings: object) -> Iterator[RunningServer]:
    """A server of the built app with these ``settings``, on a database in ``workdir``."""
    if not (Path(os.environ.get("CAREHUB_WEB_DIR") or BUILT_APP) / "index.html").is_file():
        unavailable("the web app is not built (npm run --prefix clients/web build)")
    running = start_server(f"sqlite+aiosqlite:///{workdir / 'carehub.db'}", workdir, **settings)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # French native widgets (date pickers), as a French user's browser shows them.
        launched = await playwright.chromium.launch(
            executable_path=chromium_binary(), headless=True, args=["--lang=fr-FR"]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def person(browser: Browser, app_server: RunningServer) -> AsyncIterator:
    """Opens the app for a user in a browser context of their own, logged in
    through the sign-in screen; their first device (it makes the identity key)."""
    async with people(browser, app_server) as open_as:
        yield open_as


@asynccontextmanager
async def people(browser: Browser, server: RunningServer) -> AsyncIterator:
    """``person`` on any ``server`` (one with settings of its own)."""
    contexts: list[BrowserContext] = []

    async def open_as(user_id: int, *, width: int = 1200) -> Page:
        context = await browser.new_context(
            viewport={"width": width, "height": 860}, locale="fr-FR", timezone_id="Europe/Paris"
        )
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda error: print(f"page error ({user_id}): {error}"))
        page.on("console", lambda message: print(f"console ({user_id}): {message.text}"))
        await page.goto(server.base_url + "/")
        await sign_in(page, server.usernames[user_id])
        return page

    try:
        yield open_as
    finally:
        for context in contexts:
            await context.close()
