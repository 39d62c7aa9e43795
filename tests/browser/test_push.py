"""A push reaching the web app's service worker (delivered through the
DevTools protocol, as a push service would): a generic notification in the
app's language, one per thread, naming no one and quoting nothing."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from playwright.async_api import Browser, CDPSession, Page, expect

from clients.errors import CallError
from protocol.errors import ErrorCode
from protocol.model import Empty
from protocol.push import PushSubscribeParams
from tests.support.server import RunningServer
from tests.support.webapp import care_pair, open_conversation, open_thread, sign_in

SHOWN = """async () => {
    const registration = await navigator.serviceWorker.ready;
    for (let tries = 0; tries < 200; tries++) {  // showNotification has no event to await here
        const shown = await registration.getNotifications();
        if (shown.length) return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag,
                                                       data: n.data, lang: n.lang }));
        await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return [];
}"""


GONE = """async () => {
    const registration = await navigator.serviceWorker.ready;
    for (let tries = 0; tries < 200; tries++) {  // closing has no event to await either
        const shown = await registration.getNotifications();
        if (!shown.length) return 0;
        await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return (await registration.getNotifications()).length;
}"""


async def worker_of(page: Page, server: RunningServer) -> tuple[CDPSession, str]:
    """The DevTools session that delivers pushes to the page's service worker,
    and the worker's registration id (``page`` goes to the app if it is not there)."""
    cdp = await page.context.new_cdp_session(page)
    registered: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def updated(event: dict) -> None:
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


async def deliver(cdp: CDPSession, server: RunningServer, registration: str, data: dict) -> None:
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": server.base_url, "registrationId": registration, "data": json.dumps(data)},
    )


async def test_a_push_shows_a_generic_notification_per_thread(
    browser: Browser, app_server: RunningServer
) -> None:
    page, cdp, registration = await app_with_worker(browser, app_server)
    await deliver(cdp, app_server, registration, {"thread": 12, "count": 3, "kind": "message"})
    [shown] = await page.evaluate(SHOWN)
    assert shown == {
        "title": "carehub",
        "body": "3 nouveaux messages",
        "tag": "thread-12",
        "data": {"thread": 12},
        "lang": "fr",
    }
    await page.context.close()


async def test_the_notification_speaks_the_apps_language(
    browser: Browser, app_server: RunningServer
) -> None:
    page, cdp, registration = await app_with_worker(browser, app_server)
    await page.get_by_role("button", name="English").click()
    await page.get_by_role("heading", name="Log in to carehub").wait_for()
    await deliver(cdp, app_server, registration, {"thread": 5, "count": 1, "kind": "reminder"})
    [shown] = await page.evaluate(SHOWN)
    assert (shown["body"], shown["lang"], shown["tag"]) == (
        "Appointment reminder",
        "en",
        "thread-5",
    )
    await page.context.close()


FAKE_PUSH_MANAGER = """(endpoint) => {
    // The browser's push service is out of reach here: this stands in for it.
    let current = null;
    PushManager.prototype.getSubscription = async () => current;
    PushManager.prototype.subscribe = async (options) => {
        window.askedKey = options.applicationServerKey;
        current = {
            toJSON: () => ({
                endpoint,
                keys: { p256dh: "B" + "A".repeat(86), auth: "A".repeat(22) },
            }),
            unsubscribe: async () => ((current = null), true),
        };
        return current;
    };
}"""


async def test_a_device_turns_notifications_on_and_off(
    browser: Browser, app_server: RunningServer
) -> None:
    patient = await app_server.user("patient", "Léna Morel", publish_keys=False)
    stranger = await app_server.user("patient", publish_keys=False)
    endpoint = f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}"
    context = await browser.new_context()
    await context.grant_permissions(["notifications"], origin=app_server.base_url)
    await context.add_init_script(f"({FAKE_PUSH_MANAGER})({json.dumps(endpoint)})")
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
    app_server: RunningServer, person
) -> None:
    doctor, patient = await care_pair(
        app_server, doctor_name="Dr Yves Perrin", patient_name="Rose Dumont"
    )
    await person(doctor.user_id)
    thread = await open_thread(app_server, patient, doctor)
    page = await person(patient.user_id)
    await page.context.grant_permissions(["notifications"], origin=app_server.base_url)
    cdp, registration = await worker_of(page, app_server)
    await deliver(cdp, app_server, registration, {"thread": thread, "count": 1, "kind": "message"})
    [shown] = await page.evaluate(SHOWN)
    assert shown["tag"] == f"thread-{thread}"
    await open_conversation(page, "Dr Yves Perrin")
    assert await page.evaluate(GONE) == 0
