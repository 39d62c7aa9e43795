"""What the directory reads of a thread, of a practitioner and of device
lists, each in one statement (``Threads.meta``, ``Practices.inbox``,
``Rules.of``, ``Keys.lists``), on both databases: a thread without current
members, no such thread, a user without inbox settings or device list, no
such user."""

from __future__ import annotations

from sqlalchemy import insert, update

from storage import Store
from storage.keys import KeyTx
from storage.schema import inboxes, participants, rules, users
from tests.support.rows import people, thread_of


async def test_a_threads_kind_and_current_members(store: Store) -> None:
    patient, doctor = await people(store)
    thread, _ = await thread_of(store, patient, doctor)
    assert await store.threads.meta(thread) == (
        "patient_practitioner",
        {patient: "patient", doctor: "practitioner"},
    )
    async with store.db.write() as conn:
        await conn.execute(update(participants).values(left_seq=0))  # both left
    assert await store.threads.meta(thread) == ("patient_practitioner", {})
    assert await store.threads.meta(thread + 1000) is None


async def test_a_practitioners_verification_inbox_language_and_rules(
    store: Store,
) -> None:
    _, doctor = await people(store)
    assert await store.practices.inbox(doctor) == (False, None, "fr")
    assert await store.rules.of(doctor) == []
    async with store.db.write() as conn:
        await conn.execute(update(users).values(verified_at=1, locale="en"))
        inbox = {"practitioner_id": doctor, "settings": b"s", "updated_at": 1}
        await conn.execute(insert(inboxes).values(**inbox))
        for position, rule in ((2, b"later"), (1, b"first")):
            row = {"practitioner_id": doctor, "position": position, "rule": rule, "updated_at": 1}
            await conn.execute(insert(rules).values(**row))
    assert await store.practices.inbox(doctor) == (True, b"s", "en")
    assert [rule for _, rule in await store.rules.of(doctor)] == [b"first", b"later"]
    assert await store.practices.inbox(doctor + 1000) == (False, None, "fr")


async def test_the_newest_device_lists_of_those_who_published_one(store: Store) -> None:
    patient, doctor = await people(store)
    async with store.db.write() as conn:
        published = ((patient, 1, b"old"), (patient, 2, b"new"), (doctor, 1, b"d"))
        for user, version, signed in published:
            await KeyTx(conn).replace(user, version, signed, now=1)
    assert await store.keys.lists([patient, doctor]) == {patient: b"new", doctor: b"d"}
    assert await store.keys.lists([doctor, doctor + 1000]) == {doctor: b"d"}
    assert await store.keys.lists([]) == {}
