"""The web app in Chromium: what a first visit transfers, how long until the
inbox is usable, and what sealing one message costs in the browser.

    .venv/bin/python -m benchmarks.webapp [--threads 30] [--rounds 5]

Needs the test extra (Playwright), Debian's chromium and a built app
(`npm run --prefix clients/web build`). It starts its own server on a free
loopback port with a throwaway SQLite database, like the tests.

- **First load**: bytes on the wire (gzip, as the server sends them) for
  everything the sign-in screen needs, from an empty cache.
- **Cold load until the inbox is usable**: a signed-in user with
  ``--threads`` conversations reloads with the HTTP cache and the service
  worker's cache emptied (keys and session kept, as after a browser
  restart); measured from navigation to the last conversation listed.
- **Sealing** one 200-character message to 2, 50 and 500 devices, in the
  page, with the SDK as the app bundles it (clients/web/tools/seal-timing.mjs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, async_playwright

from protocol.methods import ThreadsOpenParams
from protocol.model import ThreadKind
from server.webapp import BUILT_APP
from tests.support.server import PASSWORD, RunningServer, start_server

WEB = Path(__file__).resolve().parent.parent / "clients" / "web"
RESULTS = Path(__file__).resolve().parent / "results"


async def first_load_bytes(browser: Browser, server: RunningServer) -> dict[str, int]:
    """Encoded (on the wire) and decoded bytes of a first visit."""
    context = await browser.new_context()
    page = await context.new_page()
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    wire: dict[str, int] = {}
    urls: dict[str, str] = {}
    cdp.on(
        "Network.responseReceived", lambda e: urls.__setitem__(e["requestId"], e["response"]["url"])
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: wire.__setitem__(e["requestId"], e["encodedDataLength"]),
    )
    await page.goto(server.base_url + "/")
    await page.get_by_role("button", name="Se connecter").wait_for()
    await page.evaluate("navigator.serviceWorker.ready")
    decoded = sum(
        (BUILT_APP / name).stat().st_size
        for name in ("index.html", "app.js", "app.css", "icon.svg", "manifest.webmanifest")
    )
    page_bytes = sum(
        size for request, size in wire.items() if not urls.get(request, "").endswith("sw.js")
    )
    await context.close()
    return {"transferred": page_bytes, "uncompressed": decoded, "requests": len(wire)}


async def signed_in_page(browser: Browser, server: RunningServer, username: str) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(server.base_url + "/")
    await page.get_by_label("Identifiant").fill(username)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.get_by_role("navigation").wait_for()
    return page


async def cold_loads(page: Page, server: RunningServer, threads: int, rounds: int) -> list[float]:
    """Milliseconds from navigation to the inbox listing every conversation."""
    cdp = await page.context.new_cdp_session(page)
    timings = []
    for _ in range(rounds):
        await cdp.send("Network.clearBrowserCache")
        await cdp.send(
            "Storage.clearDataForOrigin",
            {"origin": server.base_url, "storageTypes": "cache_storage,service_workers"},
        )
        await page.goto("about:blank")
        started = await page.evaluate("performance.timeOrigin + performance.now()")
        await page.goto(server.base_url + "/")
        await page.locator(".threads li").nth(threads - 1).wait_for()
        ended = await page.evaluate("performance.timeOrigin + performance.now()")
        timings.append(ended - started)
    return timings


def seal_bundle() -> Path:
    """The SDK and the timing loop as one script for a page (esbuild)."""
    bundle = Path(tempfile.mkdtemp()) / "seal.js"
    esbuild = str(WEB / "node_modules" / ".bin" / "esbuild")
    options = ["--bundle", "--format=iife", "--platform=browser", "--log-level=warning"]
    node_only = ["--external:crypto", "--external:path", "--external:fs"]
    command = [esbuild, "tools/seal-entry.mjs", *options, *node_only, f"--outfile={bundle}"]
    subprocess.run(command, cwd=WEB, check=True)
    return bundle


async def browser_sealing(browser: Browser) -> dict[str, float]:
    bundle = await asyncio.to_thread(seal_bundle)
    page = await (await browser.new_context()).new_page()
    await page.goto("about:blank")
    await page.add_script_tag(path=str(bundle))
    timings: dict[str, float] = await page.evaluate("sealTimings()")
    shutil.rmtree(bundle.parent)
    return timings


async def populate(server: RunningServer, threads: int) -> str:
    """A patient with ``threads`` conversations, one per practitioner."""
    patient = await server.user("patient", "Patient Bench", publish_keys=False)
    for index in range(threads):
        doctor = await server.user("practitioner", f"Dr Bench {index}", publish_keys=False)
        await server.add_patient(doctor, patient)
        async with server.client(patient) as client:
            params = ThreadsOpenParams(
                ThreadKind.PATIENT_PRACTITIONER, [doctor.user_id], "exam_results"
            )
            await client.call("threads.open", params)
    return server.usernames[patient.user_id]


async def measure(threads: int, rounds: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp())
    server = start_server(f"sqlite+aiosqlite:///{workdir / 'carehub.db'}", workdir)
    try:
        username = await populate(server, threads)
        async with async_playwright() as playwright:
            chromium = shutil.which("chromium") or "chromium"
            browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
            first = await first_load_bytes(browser, server)
            page = await signed_in_page(browser, server, username)
            loads = await cold_loads(page, server, threads, rounds)
            sealing = await browser_sealing(browser)
            version = browser.version
            await browser.close()
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "chromium": version,
        "first_load": first,
        "cold_load_ms": {"threads": threads, "median": statistics.median(loads), "all": loads},
        "seal_ms": sealing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = asyncio.run(measure(args.threads, args.rounds))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "webapp.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
