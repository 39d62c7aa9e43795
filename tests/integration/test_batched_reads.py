"""Sockets saying hello and resuming at once: their sessions and their
first pages are read together (on PostgreSQL in one statement), each
caller getting its own, on both databases: known tokens, a revoked one, an
unknown one, one asked twice; cursors in bounds, above the head, below the
floor."""

from __future__ import annotations

import asyncio

from sqlalchemy import insert

from storage import NewEvent, Store
from storage.batches import READS_AT_ONCE
from storage.events import Resume
from storage.schema import tokens
from tests.support.rows import people, thread_of


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
    assert len(asked) > 2 * READS_AT_ONCE  # some are read together
    sessions = await asyncio.gather(*(store.accounts.session(h) for h in asked))
    assert sessions[12] is None
    known = [s for s in sessions if s is not None]
    assert [s.expires_at for s in known] == [*range(1000, 1012), 1007]
    assert [s.revoked for s in known] == [n == 3 for n in range(12)] + [False]
    assert {(s.user.id, s.device_id, s.locale) for s in known} == {(patient, device, "fr")}


async def test_resumes_asked_at_once_each_get_their_own_page(store: Store) -> None:
    async with store.write() as tx:  # seqs 1 to 6: users 1, 2, 1, 2, 1, 2
        batch = [(None, NewEvent("receipt", user_id=1 + n % 2)) for n in range(6)]
        await tx.events.store(batch, 5, tx.audit)
    asked = {  # the first read alone, the last three together
        Resume(user_id=3, cursor=0, device_id=1, upto=6): [],
        Resume(user_id=1, cursor=6, device_id=1, upto=6): [],
        Resume(user_id=1, cursor=7, device_id=1, upto=6): None,  # above the head
        Resume(user_id=2, cursor=1, device_id=1, upto=4): [2, 4],
        Resume(user_id=1, cursor=0, device_id=1, upto=6): [1, 3, 5],
        Resume(user_id=2, cursor=0, device_id=1, upto=6): [2, 4, 6],
        Resume(user_id=1, cursor=3, device_id=1, upto=6): [5],
    }
    assert len(asked) == READS_AT_ONCE + 3
    pages = await asyncio.gather(*(store.events.resume(resume, now=0) for resume in asked))
    seqs = [None if page is None else [event.seq for event in page] for page in pages]
    assert seqs == list(asked.values())
    assert {event.user_id for event in pages[4] or []} == {1}
    assert await store.events.prune(created_before=6) == 6
    below = Resume(user_id=1, cursor=5, device_id=1, upto=6)
    pages = await asyncio.gather(*(store.events.resume(below, now=0) for _ in range(6)))
    assert pages == [None] * 6
