"""What the directory reads of a thread and of a practitioner, each in one
statement (``Threads.meta``, ``Practices.inbox``, ``Rules.of``), on both
databases: a thread without current members, no such thread, a user
without inbox settings, no such user."""

from __future__ import annotations

from sqlalchemy import insert, update

from storage import Store
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
