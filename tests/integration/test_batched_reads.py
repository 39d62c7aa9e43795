"""Sockets saying hello and resuming at once: their sessions and their
first pages are read together (on PostgreSQL in one statement), each
caller getting its own, on both databases: known tokens, a revoked one, an
unknown one, one asked twice; cursors in bounds, above the head, below the
floor."""

from __future__ import annotations

import asyncio

from sqlalchemy import insert

from storage import NewEvent, Store
from storage.events import REPLAY_PAGE, Resume
from storage.schema import tokens
from tests.support.rows import new_message, people, send_in, thread_of


async def test_sessions_asked_at_once_each_get_their_own(store: Store) -> None:
    patient, doctor = await people(store)
    _, device = await thread_of(store, patient, doctor)
    hashes = [bytes([n]) * 32 for n in range(12)]
    async with store.db.write() as conn:
        for n, token_hash in enumerate(hashes):
            row = {"token_hash": token_hash, "user_id": patient, "device_id": device}
            row |= {"created_at": 0, "expires_at": 1000 + n, "revoked_at": 5 if n == 3 else None}
            await conn.execute(insert(tokens).values(**row))
    unknown = b"?" * 32
    asked = [*hashes, unknown, hashes[7]]
    sessions = await asyncio.gather(*(store.accounts.session(h) for h in asked))
    assert sessions[12] is None
    known = [s for s in sessions if s is not None]
    assert [s.expires_at for s in known] == [*range(1000, 1012), 1007]
    assert [s.revoked for s in known] == [n == 3 for n in range(12)] + [False]
    assert {(s.user.id, s.device_id, s.locale) for s in known} == {(patient, device, "fr")}


async def test_resumes_asked_at_once_each_get_their_own_page(store: Store) -> None:
    patient, doctor = await people(store)
    thread, phone = await thread_of(store, patient, doctor)
    async with store.write() as tx:  # seq 1 the phone's message, then 2 to 7
        _, sent = await send_in(tx, new_message(thread, phone, patient, at=1, client_msg_id="m"))
        new = [(None, NewEvent("message.new", thread_id=thread, message_id=sent.id))]
        new += [(None, NewEvent("receipt", user_id=(patient, doctor)[n % 2])) for n in range(6)]
        await tx.events.store(new, 5, tx.audit)
    nobody, tablet = doctor + 1000, phone + 1000
    asked = {  # on PostgreSQL the first read alone, the others together
        Resume(user_id=doctor, cursor=0, device_id=tablet, upto=7): [1, 3, 5, 7],
        Resume(user_id=patient, cursor=6, device_id=phone, upto=7): [],
        Resume(user_id=nobody, cursor=0, device_id=tablet, upto=7): [],
        Resume(user_id=doctor, cursor=5, device_id=tablet, upto=7): [7],
        Resume(user_id=patient, cursor=0, device_id=phone, upto=7): [2, 4, 6],  # not its own
        Resume(user_id=patient, cursor=0, device_id=tablet, upto=7): [1, 2, 4, 6],
        Resume(user_id=doctor, cursor=0, device_id=tablet, upto=4): [1, 3],
        Resume(user_id=doctor, cursor=8, device_id=tablet, upto=7): None,  # above the head
        Resume(user_id=patient, cursor=7, device_id=phone, upto=7): [],
    }
    pages = await asyncio.gather(*(store.events.resume(resume, now=0) for resume in asked))
    seqs = [None if page is None else [event.seq for event in page] for page in pages]
    assert seqs == list(asked.values())
    message = (pages[5] or [])[0].message
    assert message is not None and (message.id, message.envelope) == (sent.id, b"sealed")
    assert await store.events.prune(created_before=6) == 7
    below = Resume(user_id=doctor, cursor=5, device_id=tablet, upto=7)
    pages = await asyncio.gather(*(store.events.resume(below, now=0) for _ in range(6)))
    assert pages == [None] * 6


async def test_each_resume_read_together_gets_a_page_of_its_own(store: Store) -> None:
    """The page's limit holds for each resume, not for the statement; the
    rest comes with ``after``."""
    async with store.write() as tx:
        mine = [(None, NewEvent("receipt", user_id=1))] * (REPLAY_PAGE + 1)
        theirs = [(None, NewEvent("receipt", user_id=2))] * 300
        await tx.events.store(mine + theirs, 5, tx.audit)
    head = REPLAY_PAGE + 301
    alone = [Resume(user_id=3, cursor=0, device_id=1, upto=head)]  # read alone: the others together
    together = [Resume(user_id=user, cursor=0, device_id=1, upto=head) for user in (1, 2)]
    pages = await asyncio.gather(*(store.events.resume(r, now=0) for r in alone + together))
    assert [len(page or []) for page in pages] == [0, REPLAY_PAGE, 300]
    rest = await store.events.after(1, REPLAY_PAGE, REPLAY_PAGE, now=0, device_id=1, upto=head)
    assert [event.seq for event in rest] == [REPLAY_PAGE + 1]
