"""A person's notification preferences through a real socket, as the push
queue applies them: quiet hours and do-not-disturb leave only the count, a
muted thread pushes nothing, a device that chose previews gets the newest
message's envelope in its push."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import http_ece

from protocol.errors import ErrorCode
from protocol.methods import HistoryParams
from protocol.model import Empty
from protocol.practice import WeeklySpan
from protocol.push import MuteParams, NotifyPreferences, PushSubscribeParams
from server.webpush import b64url, unb64url
from tests.integration.test_mail import mail_server
from tests.integration.test_practice import open_params, refused
from tests.integration.test_push import browser_keys
from tests.support.pushservice import PushService, Received, push_service
from tests.support.server import RunningServer

PARIS = ZoneInfo("Europe/Paris")


class ClosedPhone:
    """A patient's phone subscribed to the loopback push service, its app closed."""

    def __init__(self, service: PushService, name: str) -> None:
        self.key, self.p256dh, self.auth = browser_keys()
        self.endpoint = service.endpoint(name)

    def subscription(self, *, preview: bool = False) -> PushSubscribeParams:
        return PushSubscribeParams(self.endpoint, self.p256dh, b64url(self.auth), preview)

    def said(self, got: Received) -> dict[str, Any]:
        opened = http_ece.decrypt(
            got.body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(opened)  # type: ignore[no-any-return]


def now_ms() -> int:
    return int(time.time() * 1000)


def all_of_today() -> WeeklySpan:
    """Quiet hours that hold now, in Paris: the whole of today."""
    return WeeklySpan(datetime.now(PARIS).weekday(), "00:00", "24:00")


async def test_quiet_hours_and_do_not_disturb_leave_only_the_count(make_server) -> None:  # type: ignore[no-untyped-def]
    async with push_service() as service:
        server: RunningServer = make_server(push_services=service.origin, push_poll_seconds=0.1)
        doctor, patient, thread = await server.patient_thread()
        phone = ClosedPhone(service, "phone")
        quiet_times = [
            NotifyPreferences(do_not_disturb_until=now_ms() + 3_600_000),
            NotifyPreferences(quiet_hours=[all_of_today()], time_zone="Europe/Paris"),
            NotifyPreferences(do_not_disturb_until=now_ms() - 1),  # over: a push as usual
        ]
        said = []
        for number, preferences in enumerate(quiet_times, 1):
            async with server.client(patient) as me:
                await me.call("push.subscribe", phone.subscription(preview=True))
                assert await me.call("notify.set", preferences) == preferences
            async with server.secure(doctor) as desk:
                await desk.send(thread, f"Message {number}")
                got = await service.next()
            said.append((phone.said(got), got.headers["urgency"]))
    (first, first_urgency), (second, second_urgency), (last, last_urgency) = said
    assert first == {"id": first["id"], "thread": thread, "count": 1, "kind": "message"} | {
        "quiet": True
    }  # the count, and no preview: nothing that would light a screen up
    assert second == {"id": second["id"], "thread": thread, "count": 2, "kind": "message"} | {
        "quiet": True
    }
    assert (first_urgency, second_urgency) == ("low", "low")
    assert "quiet" not in last and last["count"] == 3 and "envelope" in last
    assert last_urgency == "high"


async def test_a_muted_thread_pushes_nothing_and_says_so(make_server) -> None:  # type: ignore[no-untyped-def]
    async with push_service() as service:
        server: RunningServer = make_server(push_services=service.origin, push_poll_seconds=0.1)
        doctor, patient, muted = await server.patient_thread()
        phone = ClosedPhone(service, "phone")
        async with server.client(patient) as me:
            other = await me.call("threads.open", open_params(doctor))
            await me.call("push.subscribe", phone.subscription())
            assert (await me.call("threads.mute", MuteParams(muted))).muted
        async with server.secure(doctor) as desk:
            await desk.send(muted, "Dans le fil muet")
            await desk.send(other.id, "Dans l'autre fil")
            got = await service.next()
        assert phone.said(got)["thread"] == other.id  # the muted thread's came not, nor first
        async with server.client(patient) as me:
            listed = {t.id: t for t in (await me.call("threads.list", Empty())).threads}
            assert listed[muted].muted and not listed[other.id].muted
            assert listed[muted].unread == 1  # muted is not read
            assert not (await me.call("threads.mute", MuteParams(muted, False))).muted
        async with server.secure(doctor) as desk:
            await desk.send(muted, "De nouveau entendu")
            got = await service.next()
    assert phone.said(got)["thread"] == muted
    assert phone.said(got)["count"] == 2


async def test_a_preview_device_gets_the_envelope_sealed_for_it(make_server) -> None:  # type: ignore[no-untyped-def]
    async with push_service() as service:
        server: RunningServer = make_server(push_services=service.origin, push_poll_seconds=0.1)
        doctor, patient, thread = await server.patient_thread()
        phone, tablet = ClosedPhone(service, "phone"), ClosedPhone(service, "tablet")
        second = await server.other_device(patient)
        async with server.client(patient) as me, server.client(second) as other:
            await me.call("push.subscribe", phone.subscription(preview=True))
            await other.call("push.subscribe", tablet.subscription(preview=False))
        async with server.secure(doctor) as desk:
            await desk.send(thread, "Votre ordonnance est prête.")
            got = {(r := await service.next()).path: r for _ in range(2)}
            await desk.send(thread, "x" * 4_000)  # too long to ride in a push
            too_long = await service.next()
        async with server.client(patient) as me:
            history = await me.call("messages.history", HistoryParams(thread))
    newest_first = [m for m in history.messages if m.sender == doctor.user_id]
    previewed = phone.said(got["/push/phone"])
    assert unb64url(previewed["envelope"]) == newest_first[1].envelope  # exactly as stored
    assert "envelope" not in tablet.said(got["/push/tablet"])  # this device did not ask
    long_push = (phone if too_long.path.endswith("phone") else tablet).said(too_long)
    assert "envelope" not in long_push and long_push["count"] == 2


async def test_preferences_are_checked_kept_and_ones_own(server: RunningServer) -> None:
    patient = await server.user("patient", publish_keys=False)
    other = await server.user("patient", publish_keys=False)
    async with server.client(patient) as me, server.client(other) as stranger:
        assert await me.call("notify.get", Empty()) == NotifyPreferences()
        wrong_zone = NotifyPreferences(time_zone="Mars/Olympus_Mons")
        await refused(me.call("notify.set", wrong_zone), None, ErrorCode.INVALID)
        empty_span = NotifyPreferences(quiet_hours=[WeeklySpan(0, "08:00", "08:00")])
        await refused(me.call("notify.set", empty_span), None, ErrorCode.INVALID)
        mine = NotifyPreferences(
            quiet_hours=[WeeklySpan(0, "20:00", "08:00")],
            time_zone="America/Cayenne",
            email="ana@example.org",
        )
        await me.call("notify.set", mine)
        assert await me.call("notify.get", Empty()) == mine
        assert await stranger.call("notify.get", Empty()) == NotifyPreferences()


async def test_a_patient_without_the_app_is_emailed_hourly_and_never_told_what(make_server) -> None:  # type: ignore[no-untyped-def]
    """Patients with an address, no device subscribed: Ana, whose app is
    closed, is emailed once that a message waits, not again for a second
    within the hour; Léo, whose app is open, is not emailed; Zoé's email,
    queued after all that, is the marker that no other went out."""
    async with mail_server() as mailbox:
        server: RunningServer = make_server(
            smtp_host="127.0.0.1",
            smtp_port=mailbox.port,
            smtp_security="none",
            push_poll_seconds=0.1,
            public_url="https://soins.example.org",
        )
        people = [await server.patient_thread() for _ in range(3)]
        for (_, patient, _), name in zip(people, ("ana", "leo", "zoe"), strict=True):
            async with server.client(patient) as me:
                await me.call("notify.set", NotifyPreferences(email=f"{name}@example.org"))
        (ana_doctor, _, ana), (leo_doctor, leo, leo_thread), (zoe_doctor, _, zoe) = people
        async with server.client(leo) as open_app:
            async with server.secure(leo_doctor) as desk:
                await desk.send(leo_thread, "Ordonnance renouvelée.")
                await open_app.next_event("message.new")  # received live
            async with server.secure(ana_doctor) as desk:
                await desk.send(ana, "Vos résultats de biopsie sont arrivés.")
                told = await mailbox.next()
                await desk.send(ana, "Merci de rappeler le cabinet.")
            async with server.secure(zoe_doctor) as desk:
                await desk.send(zoe, "Bonjour.")
                await mailbox.next()
    assert [got.rcpt_tos for got in mailbox.delivered] == [["ana@example.org"], ["zoe@example.org"]]
    assert "nouveau message de votre praticien" in told.text
    assert "https://soins.example.org" in told.text
    for word in ("biopsie", "résultats", "rappeler", server.usernames[ana_doctor.user_id]):
        assert word not in told.text and word not in str(told.message["Subject"])
