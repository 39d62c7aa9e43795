"""A push reaching the web app's service worker (delivered through the
DevTools protocol, as a push service would): a generic notification in the
app's language, one per thread, naming no one and quoting nothing; a quiet
one makes no sound; a retried one changes nothing; on a device that chose
previews, the message the push carries is opened with the device's own keys
(a real one, pushed by the server's push queue to a push service on
loopback), and anything that does not verify gets the generic words; a
click opens the thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import http_ece
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from playwright.async_api import Browser, BrowserContext, CDPSession, Page, Worker, expect

from clients.errors import CallError
from protocol.e2e import Envelope, decode_envelope
from protocol.errors import ErrorCode
from protocol.model import Empty
from protocol.push import PushSubscribeParams
from server.webpush import b64url, unb64url
from tests.support.pushservice import PushService, push_service
from tests.support.server import RunningServer, start_server
from tests.support.webapp import (
    Person,
    care_pair,
    open_conversation,
    open_thread,
    screenshot,
    sign_in,
    write,
)

GONE = """async () => {
    const registration = await navigator.serviceWorker.ready;
    for (let tries = 0; tries < 200; tries++) {  // closing has no event to await either
        const shown = await registration.getNotifications();
        if (!shown.length) return 0;
        await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return (await registration.getNotifications()).length;
}"""


LANGUAGE_TOLD = """async (language) => {
    for (let tries = 0; tries < 200; tries++) {  // the app tells its worker without waiting
        const told = await (await caches.open("carehub-settings")).match("/language");
        if ((await told?.text()) === language) return true;
        await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return false;
}"""


async def worker_of(page: Page, server: RunningServer) -> tuple[CDPSession, str]:
    """The DevTools session that delivers pushes to the page's service worker,
    and the worker's registration id (``page`` goes to the app if it is not there)."""
    cdp = await page.context.new_cdp_session(page)
    registered: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def updated(event: dict[str, Any]) -> None:
        for registration in event["registrations"]:
            if registration["scopeURL"].startswith(server.base_url) and not registered.done():
                registered.set_result(registration["registrationId"])

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    await cdp.send("ServiceWorker.enable")
    if not page.url.startswith(server.base_url):
        await page.goto(server.base_url + "/")
    await page.evaluate("navigator.serviceWorker.ready")
    return cdp, await asyncio.wait_for(registered, 15)


async def app_with_worker(browser: Browser, server: RunningServer) -> tuple[Page, CDPSession, str]:
    """The app open in a new context that allows notifications, and its worker."""
    context = await browser.new_context()
    await context.grant_permissions(["notifications"], origin=server.base_url)
    page = await context.new_page()
    return page, *await worker_of(page, server)


async def deliver(
    cdp: CDPSession, server: RunningServer, registration: str, data: dict[str, Any]
) -> None:
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": server.base_url, "registrationId": registration, "data": json.dumps(data)},
    )


async def watched_worker(context: BrowserContext, server: RunningServer) -> Worker:
    """The app's service worker (the page must have it ready), watched: it
    notes each notification once the browser has it on display."""
    worker = next((w for w in context.service_workers if w.url.startswith(server.base_url)), None)
    if worker is None:
        worker = await context.wait_for_event("serviceworker")
    assert worker.url.startswith(server.base_url)
    await worker.evaluate(WATCH)
    return worker


# Chromium's getNotifications() drops from its records any notification
# written but not yet on display when the call starts (it stays on screen,
# unlisted): a test that polled it while a push was being shown lost one now
# and then. So the test notes when the worker's showNotification() resolves
# (the notification is on display then), and reads once, after that.
WATCH = """() => {
    const registration = self.registration;
    const show = registration.showNotification.bind(registration);
    self.shownIds = [];
    registration.showNotification = async (title, options) => {
        await show(title, options);
        self.shownIds.push(options?.data?.id);
    };
}"""

SHOWN_AS = """async (id) => {
    for (let tries = 0; tries < 200 && !self.shownIds.includes(id); tries++) {
        await new Promise((resolve) => setTimeout(resolve, 25));  // shown: no event reaches a test
    }
    const found = (await self.registration.getNotifications()).find((n) => n.data?.id === id);
    return found && { title: found.title, body: found.body, tag: found.tag, data: found.data,
                      lang: found.lang, silent: found.silent };
}"""


async def shown_as(worker: Worker, push_id: int) -> dict[str, Any]:
    """The notification push ``push_id`` showed, once it shows."""
    shown = await worker.evaluate(SHOWN_AS, push_id)
    assert shown is not None, f"push {push_id} showed no notification"
    return dict(shown)


async def with_tag(worker: Worker, tag: str) -> list[dict[str, Any]]:
    return list(
        await worker.evaluate(
            """async (tag) => (await self.registration.getNotifications({ tag })).map(
                (n) => ({ id: n.data?.id, body: n.body }))""",
            tag,
        )
    )


async def test_a_push_shows_a_generic_notification_per_thread(
    browser: Browser, app_server: RunningServer
) -> None:
    page, cdp, registration = await app_with_worker(browser, app_server)
    worker = await watched_worker(page.context, app_server)
    pushed = {"id": 4, "thread": 12, "count": 3, "kind": "message"}
    await deliver(cdp, app_server, registration, pushed)
    assert await shown_as(worker, 4) == {
        "title": "carehub",
        "body": "3 nouveaux messages",
        "tag": "thread-12",
        "data": {"thread": 12, "id": 4},
        "lang": "fr",
        "silent": False,
    }
    await page.context.close()


BADGE_SPY = """() => {
    // A badge shows only on an installed app: the worker's call is what is checked.
    self.badges = [];
    self.navigator.setAppBadge = async (count) => { self.badges.push(count); };
}"""


async def test_a_quiet_push_is_silent_says_the_count_and_sets_the_badge(
    browser: Browser, app_server: RunningServer
) -> None:
    page, cdp, registration = await app_with_worker(browser, app_server)
    worker = await watched_worker(page.context, app_server)
    await worker.evaluate(BADGE_SPY)
    quiet = {"id": 8, "thread": 7, "count": 4, "kind": "message", "quiet": True}
    await deliver(cdp, app_server, registration, quiet)
    shown = await shown_as(worker, 8)
    assert (shown["title"], shown["body"], shown["silent"]) == (
        "carehub",
        "4 nouveaux messages",
        True,
    )
    assert await worker.evaluate("self.badges") == [4]
    await deliver(cdp, app_server, registration, {**quiet, "id": 9, "quiet": False, "count": 5})
    assert (await shown_as(worker, 9))["silent"] is False  # out of quiet hours: it sounds again
    await page.context.close()


async def test_a_repeated_push_changes_nothing_a_new_one_renotifies(
    browser: Browser, app_server: RunningServer
) -> None:
    page, cdp, registration = await app_with_worker(browser, app_server)
    worker = await watched_worker(page.context, app_server)
    first = {"id": 5, "thread": 3, "count": 1, "kind": "message"}
    await deliver(cdp, app_server, registration, first)
    await shown_as(worker, 5)
    await deliver(cdp, app_server, registration, first)  # the outbox tried again
    # Pushes are shown in the order they come: once a later one shows, the
    # repeat has been handled.
    await deliver(cdp, app_server, registration, {**first, "id": 6, "thread": 4})
    await shown_as(worker, 6)
    assert await worker.evaluate("self.shownIds") == [5, 6]  # the repeat showed nothing again
    assert await with_tag(worker, "thread-3") == [{"id": 5, "body": "Nouveau message"}]
    await deliver(cdp, app_server, registration, {**first, "id": 7, "count": 2})
    assert (await shown_as(worker, 7))["body"] == "2 nouveaux messages"
    assert [n["id"] for n in await with_tag(worker, "thread-3")] == [7]  # replaced, not added
    await page.context.close()


CLICK = """async (id) => {
    // DevTools cannot click a notification: the click event, as the system sends it.
    const shown = await self.registration.getNotifications();
    const notification = shown.find((n) => n.data?.id === id);
    self.dispatchEvent(new NotificationEvent("notificationclick", { notification }));
}"""


async def patient_notified_by(
    server: RunningServer, person: Person, doctor_name: str, patient_name: str
) -> tuple[Page, int, CDPSession, str, Worker]:
    """A patient's app, allowed to notify, with a thread with their doctor
    (whose app has opened once); the page, the thread, and its worker."""
    doctor, patient = await care_pair(server, doctor_name=doctor_name, patient_name=patient_name)
    await person(doctor.user_id)
    thread = await open_thread(server, patient, doctor)
    page = await person(patient.user_id)
    await page.context.grant_permissions(["notifications"], origin=server.base_url)
    cdp, registration = await worker_of(page, server)
    return page, thread, cdp, registration, await watched_worker(page.context, server)


async def test_a_click_on_a_notification_opens_its_thread(
    app_server: RunningServer, person: Person
) -> None:
    page, thread, cdp, registration, worker = await patient_notified_by(
        app_server, person, "Dr Paul Garnier", "Inès Faure"
    )
    await page.get_by_role("navigation").get_by_role("link", name="Appareils").click()
    await deliver(cdp, app_server, registration, {"id": 11, "thread": thread, "count": 1})
    await shown_as(worker, 11)
    await worker.evaluate(CLICK, 11)
    await expect(page).to_have_url(re.compile(f"#/threads/{thread}$"))
    await expect(page.get_by_role("heading", name="Dr Paul Garnier", level=1)).to_be_visible()
    assert await page.evaluate(GONE) == 0  # clicked: it closed


async def test_the_notification_speaks_the_apps_language(
    browser: Browser, app_server: RunningServer
) -> None:
    page, cdp, registration = await app_with_worker(browser, app_server)
    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="Log in to carehub").wait_for()
    assert await page.evaluate(LANGUAGE_TOLD, "en")
    worker = await watched_worker(page.context, app_server)
    pushed = {"id": 3, "thread": 5, "count": 1, "kind": "reminder"}
    await deliver(cdp, app_server, registration, pushed)
    shown = await shown_as(worker, 3)
    assert (shown["body"], shown["lang"], shown["tag"]) == (
        "Appointment reminder",
        "en",
        "thread-5",
    )
    await page.context.close()


FAKE_PUSH_MANAGER = """([endpoint, keys]) => {
    // The browser's push service is out of reach here: this stands in for it.
    let current = null;
    PushManager.prototype.getSubscription = async () => current;
    PushManager.prototype.subscribe = async (options) => {
        window.askedKey = options.applicationServerKey;
        current = {
            toJSON: () => ({ endpoint, keys }),
            unsubscribe: async () => ((current = null), true),
        };
        return current;
    };
}"""
FAKE_KEYS = {"p256dh": "B" + "A" * 86, "auth": "A" * 22}


def fake_push_manager(endpoint: str, keys: dict[str, str]) -> str:
    """An init script that makes the page's push subscription ``endpoint``."""
    return f"({FAKE_PUSH_MANAGER})({json.dumps([endpoint, keys])})"


async def test_a_device_turns_notifications_on_and_off(
    browser: Browser, app_server: RunningServer
) -> None:
    patient = await app_server.user("patient", "Léna Morel", publish_keys=False)
    stranger = await app_server.user("patient", publish_keys=False)
    endpoint = f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}"
    context = await browser.new_context()
    await context.grant_permissions(["notifications"], origin=app_server.base_url)
    await context.add_init_script(fake_push_manager(endpoint, FAKE_KEYS))
    page = await context.new_page()
    await page.goto(app_server.base_url + "/")
    await sign_in(page, app_server.usernames[patient.user_id])
    await page.get_by_role("navigation").get_by_role("link", name="Appareils").click()
    section = page.get_by_role("region", name="Notifications quand l'application est fermée")
    await section.get_by_role("button", name="Activer les notifications").click()
    await expect(section.get_by_role("status")).to_have_text(
        "Notifications activées sur cet appareil."
    )
    params = PushSubscribeParams(endpoint, "B" + "A" * 86, "A" * 22)
    async with app_server.client(stranger) as other:
        offered = (await other.call("push.key", Empty())).public_key
        assert await page.evaluate("window.askedKey") == offered  # the server's key
        with pytest.raises(CallError) as taken:  # the server holds it, for this account
            await other.call("push.subscribe", params)
        assert taken.value.code == ErrorCode.CONFLICT
        await section.get_by_role("button", name="Désactiver les notifications").click()
        await expect(section.get_by_role("status")).to_have_text(
            "Notifications désactivées sur cet appareil."
        )
        await other.call("push.subscribe", params)  # given up: free again
    await context.close()


async def test_reading_the_thread_closes_its_notification(
    app_server: RunningServer, person: Person
) -> None:
    page, thread, cdp, registration, worker = await patient_notified_by(
        app_server, person, "Dr Yves Perrin", "Rose Dumont"
    )
    await deliver(cdp, app_server, registration, {"id": 2, "thread": thread, "count": 1})
    assert (await shown_as(worker, 2))["tag"] == f"thread-{thread}"
    await open_conversation(page, "Dr Yves Perrin")
    assert await page.evaluate(GONE) == 0


def browser_keys() -> tuple[ec.EllipticCurvePrivateKey, dict[str, str], bytes]:
    """A browser's push keys: its private key, its subscription's keys, its auth secret."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    auth = os.urandom(16)
    return key, {"p256dh": b64url(point), "auth": b64url(auth)}, auth


@contextlib.asynccontextmanager
async def server_pushing_to(service: PushService, workdir: Path) -> AsyncIterator[RunningServer]:
    """A server of its own whose push queue pushes to ``service`` (the
    browsers' push services are out of reach of a test)."""
    db = f"sqlite+aiosqlite:///{workdir / 'carehub.db'}"
    running = start_server(db, workdir, push_services=service.origin, push_poll_seconds=0.1)
    try:
        yield running
    finally:
        running.stop()


def opened(received: bytes, key: ec.EllipticCurvePrivateKey, auth: bytes) -> dict[str, Any]:
    """A push as the browser decrypts it (RFC 8291)."""
    payload = http_ece.decrypt(received, private_key=key, auth_secret=auth, version="aes128gcm")
    return dict(json.loads(payload))


def tampered(envelope: str) -> str:
    """The envelope with one bit of its encrypted body flipped: the sender's
    signature no longer covers it."""
    outer, _ = decode_envelope(unb64url(envelope))
    body = outer.body[:-1] + bytes([outer.body[-1] ^ 1])
    return b64url(msgspec.msgpack.encode(Envelope(outer.header, body, outer.sig)))


ANSWER = (
    "Voici votre ordonnance renouvelée pour trois mois. Passez la prendre à "
    "l'accueil du cabinet quand vous voulez."
)


SECOND_ANSWER = "Elle vous attend à l'accueil."

# Whether the app has saved a verified sender key in this browser's keyring.
SENDER_KEY_SAVED = """async () => {
  const db = await new Promise((done, failed) => {
    const opening = indexedDB.open("carehub-e2e");
    opening.onsuccess = () => done(opening.result);
    opening.onerror = () => failed(opening.error);
  });
  const records = await new Promise((done, failed) => {
    const asked = db.transaction("keyrings").objectStore("keyrings").getAll();
    asked.onsuccess = () => done(asked.result);
    asked.onerror = () => failed(asked.error);
  });
  db.close();
  return records.some((record) => (record.senderKeys ?? []).length > 0);
}"""


def envelope_version(envelope: str) -> int:
    """The header version of a pushed (base64url) envelope."""
    return decode_envelope(unb64url(envelope))[1].v


async def test_a_preview_device_opens_the_pushed_message_with_its_own_keys(
    browser: Browser, tmp_path: Path
) -> None:
    """The patient's browser chose previews and is closed; the practitioner
    answers; the server's push carries the answer sealed, and the service
    worker shows its first words. A tampered envelope, or one pushed for
    another thread, or once signed out, gets the generic words."""
    key, keys, auth = browser_keys()
    async with push_service() as service, server_pushing_to(service, tmp_path) as server:
        doctor = await server.user("practitioner", "Dr Anne Roux")  # keys on the SDK's device
        patient = await server.user("patient", "Léna Morel", publish_keys=False)
        await server.add_patient(doctor, patient)
        thread = await open_thread(server, patient, doctor)
        context = await browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
        await context.grant_permissions(["notifications"], origin=server.base_url)
        await context.add_init_script(fake_push_manager(service.endpoint("lena"), keys))
        page = await context.new_page()
        await page.goto(server.base_url + "/")
        await sign_in(page, server.usernames[patient.user_id])
        await open_conversation(page, "Dr Anne Roux")
        await write(page, "Bonjour docteur, pouvez-vous renouveler mon ordonnance ?")
        await expect(page.get_by_text("Bonjour docteur")).to_be_visible()
        await page.get_by_role("navigation").get_by_role("link", name="Appareils").click()
        section = page.get_by_role("region", name="Notifications quand l'application est fermée")
        await section.get_by_role("button", name="Activer les notifications").click()
        await section.get_by_role("checkbox", name="Afficher un aperçu du message").check()
        await expect(section.get_by_role("status").last).to_have_text(
            "Aperçu affiché sur cet appareil."
        )
        await screenshot(page, "devices-push-preview")
        cdp, registration = await worker_of(page, server)
        worker = await watched_worker(context, server)

        await page.goto("about:blank")  # the app is closed: its socket with it
        async with server.secure(doctor) as desk:
            await desk.send(thread, ANSWER)
        pushed = opened((await service.next()).body, key, auth)
        assert pushed["thread"] == thread and "envelope" in pushed

        await deliver(
            cdp,
            server,
            registration,
            {**pushed, "id": 901, "envelope": tampered(pushed["envelope"])},
        )
        assert (await shown_as(worker, 901))["body"] == "Nouveau message"
        await deliver(cdp, server, registration, {**pushed, "id": 902, "thread": thread + 1})
        assert (await shown_as(worker, 902))["body"] == "Nouveau message"
        await deliver(cdp, server, registration, pushed)
        shown = await shown_as(worker, pushed["id"])
        assert (shown["title"], shown["body"]) == ("Nouveau message", ANSWER[:79].rstrip() + "…")

        # A big group's messages name a sender key instead: the app saves the
        # key it fetched, and the worker previews the next message under it.
        await page.goto(server.base_url + "/")
        async with server.secure(doctor, sender_keys_above=0) as desk:
            await desk.send(thread, "Bien reçu.")  # distributes the doctor's key
            await open_conversation(page, "Dr Anne Roux")
            await expect(page.get_by_text("Bien reçu.")).to_be_visible()
            await page.wait_for_function(SENDER_KEY_SAVED)
            await page.goto("about:blank")
            await desk.send(thread, SECOND_ANSWER)  # under the same key
        grouped = opened((await service.next()).body, key, auth)
        assert envelope_version(grouped["envelope"]) == 2
        await deliver(cdp, server, registration, grouped)
        assert (await shown_as(worker, grouped["id"]))["body"] == SECOND_ANSWER

        await page.goto(server.base_url + "/")
        await page.get_by_role("button", name="Se déconnecter").click()
        await expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
        await deliver(cdp, server, registration, {**pushed, "id": 903})
        shown = await shown_as(worker, 903)  # signed out: this browser opens nothing
        assert (shown["title"], shown["body"]) == ("carehub", "Nouveau message")
        await context.close()
